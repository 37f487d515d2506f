import type { ResolvedConfig } from '../../config/index.js';
import { messageOf } from '../../errors.js';
import { checkTelegramChats } from '../config-check.js';
import { fail, ok, skip, warn, type Finding } from './finding.js';

const TOKEN_FIX = 'set AIRLOCK_TELEGRAM_BOT_TOKEN (telegram.botToken) to the token @BotFather gave the bot';

/**
 * The bot token works: getMe at the configured Bot API root answers with the bot. The token is part of
 * the URL, so no message here ever quotes the URL.
 */
export async function telegramFindings(config: ResolvedConfig): Promise<Finding[]> {
  const { botToken, apiRoot } = config.telegram;
  if (!botToken) {
    return [Object.keys(config.telegram.chats).length > 0 ? warn('telegram', 'chats are listed but there is no bot token, so Telegram is off', TOKEN_FIX) : skip('telegram', 'not configured (no bot token)')];
  }
  const findings: Finding[] = [await botFinding(botToken, apiRoot)];
  const chats = await checkTelegramChats(config);
  for (const problem of chats.problems) findings.push(fail('telegram', problem, 'map each chat to an active user (AIRLOCK_TELEGRAM_CHATS), or add the user with `airlock users add`'));
  for (const note of chats.notes) findings.push(warn('telegram', note, 'see the note'));
  return findings;
}

async function botFinding(token: string, apiRoot: string): Promise<Finding> {
  let response: Response;
  try {
    response = await fetch(`${apiRoot.replace(/\/+$/, '')}/bot${token}/getMe`, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return fail('telegram', `cannot reach the Bot API at ${apiRoot}: ${cause?.code ?? messageOf(error)}`, 'check that this machine reaches api.telegram.org (or telegram.apiRoot) over HTTPS, through the proxy if there is one');
  }
  const body = (await response.json().catch(() => undefined)) as { ok?: boolean; result?: { username?: string }; description?: string } | undefined;
  if (response.ok && body?.ok) return ok('telegram', `the bot token works: @${body.result?.username ?? '?'}`);
  if (response.status === 401 || response.status === 404) return fail('telegram', `the Bot API refused the bot token (${response.status}${body?.description ? ` ${body.description}` : ''})`, TOKEN_FIX);
  return fail('telegram', `getMe answered ${response.status}${body?.description ? `: ${body.description}` : ''}`, `check telegram.apiRoot (${apiRoot}) and try again`);
}
