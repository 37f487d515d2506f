import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Update } from 'grammy/types';
import { z } from 'zod';
import type { AuditLog } from '../../audit/index.js';
import { sameSecret } from '../../constant-time.js';
import { AirlockError } from '../../errors.js';
import type { TelegramBot } from './bot.js';

export const WEBHOOK_PATH = '/v1/telegram/webhook';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * POST /v1/telegram/webhook (webhook mode): Telegram's updates, each carrying the configured secret in
 * X-Telegram-Bot-Api-Secret-Token (compared in constant time; a wrong or missing one is audited as
 * auth.failed and answered 401). The update then takes the same path as a polled one.
 */
export async function telegramRoutes(app: FastifyInstance, options: { bot: TelegramBot; secret: string; audit: AuditLog }): Promise<void> {
  const body = z.looseObject({ update_id: z.number().int().min(0) });
  app.withTypeProvider<ZodTypeProvider>().post(WEBHOOK_PATH, { config: { openapi: { security: [{ telegramSecret: [] }] } }, schema: { body } }, async (request, reply) => {
    const presented = request.headers[SECRET_HEADER];
    if (typeof presented !== 'string' || !sameSecret(presented, options.secret)) {
      await options.audit.record({
        actor: 'anonymous',
        action: 'auth.failed',
        data: { reason: 'telegram_webhook_secret', via: typeof presented === 'string' ? SECRET_HEADER : null, method: request.method, route: WEBHOOK_PATH, ip: request.ip, request_id: request.id },
      });
      throw new AirlockError('unauthorized', `the Telegram webhook needs the configured secret in ${SECRET_HEADER}`, { status: 401 });
    }
    await options.bot.handleWebhook(request.body as unknown as Update);
    return reply.status(200).send({ ok: true });
  });
}
