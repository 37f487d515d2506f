import { setTimeout as sleep } from 'node:timers/promises';
import { Bot, GrammyError, type Context, type NextFunction } from 'grammy';
import type { Update } from 'grammy/types';
import type { Logger } from 'pino';
import type { Approvals, ApprovalView } from '../../approvals/index.js';
import type { ExecutionService } from '../../gateway/index.js';
import type { Challenges } from '../../identity/index.js';
import type { TargetRegistry } from '../../targets/index.js';
import type { Tokens } from '../../tokens/service.js';
import type { AuditLog } from '../../audit/index.js';
import type { Config } from '../../config/index.js';
import { AirlockError, messageOf } from '../../errors.js';
import { actorOf, hasScope, originOf, scopesOfRole, type Principal, type Role, type Scope } from '../../identity/index.js';
import type { Store } from '../../store/index.js';
import type { UsersTable } from '../../store/tables.js';
import type { Cards } from './cards.js';
import { CommandRate, addressedToBot, commandWords } from './chatops/addressing.js';
import { SYSAUTH_USAGE, SYS_USAGE, redactedCommand } from './chatops/parse.js';
import { SystemOperator, deleteCodeMessage } from './chatops/operator.js';
import { escapeHtml, pendingList } from './format.js';

export type TelegramSettings = Config['telegram'] & { readonly botToken: string };

/** The updates the bot asks Telegram for. */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;
/** How long to wait before trying Telegram again after a failed start. */
const RETRY_MS = 10_000;
/** While another process takes this bot's updates (409 Conflict), tries are spaced out up to this. */
const CONFLICT_RETRY_MAX_MS = 300_000;
/** A chat that keeps writing while refused is audited once per this window (with the count it skipped). */
const REFUSAL_WINDOW_MS = 60_000;
/** Approval ids are UUIDs. */
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who an allowlisted chat acts as, resolved afresh for every update (roles and accounts change). */
interface Acting {
  readonly chat: string;
  readonly user: UsersTable;
  readonly principal: Principal;
}

type BotContext = Context & { acting?: Acting };

/** The principal of a person acting from an allowlisted chat: their user and role; the chat is the credential. */
export function telegramPrincipal(user: UsersTable, chat: string): Principal {
  const role = user.role as Role;
  return { id: chat, kind: 'telegram', name: user.username, userId: user.id, username: user.username, role, scopes: new Set(scopesOfRole(role)) };
}

/** HTML to the plain text a callback answer shows (it has no parse mode). */
function plain(html: string): string {
  return html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** What system mode needs besides the approvals: challenges, minting, a gateway and the targets. */
export interface SystemParts {
  readonly challenges: Challenges;
  readonly tokens: Tokens;
  readonly gateway: ExecutionService;
  readonly targets: TargetRegistry;
}

const MODES: Record<TelegramSettings['chatops'], string> = {
  off: 'approvals only',
  session: 'requests and approvals; no system operations',
  system: 'typed system operations through the gate, for its system admins only',
};

const HELP = [
  'New requests that wait for you arrive here with <b>Approve</b> / <b>Reject</b> buttons.',
  '/pending: requests waiting for a decision',
  '/status ID: one request as it stands',
  '/approve ID [CODE]: approve; HIGH and CRITICAL requests need your current TOTP code',
  '/reject ID REASON: reject, saying why',
  '/whoami: who this chat acts as',
].join('\n');

const SYSTEM_HELP = [
  'System operations go through Airlock: LOW ones run at once, others run here once approved.',
  `<code>${[...SYS_USAGE, ...SYSAUTH_USAGE].join('\n')}</code>`,
  '(sys commands take --target T and --env E)',
  HELP,
].join('\n');

/**
 * The bot approvers talk to. Only allowlisted chats are answered, each as the Airlock user it is mapped
 * to, with that user's rules (scopes, self-approval, step-up, k of n: the decision service applies them);
 * every other chat gets no answer and is audited as `telegram.refused`.
 */
export class TelegramBot {
  readonly bot: Bot<BotContext>;
  private stopped = false;
  private readonly stopping = new AbortController();
  private starting: Promise<void> | undefined;
  private running = false;
  private lastError: string | null = null;
  /** Tries in a row that Telegram answered 409 Conflict (another process takes this bot's updates). */
  private conflicts = 0;
  private readonly refusals = new Map<string, { until: number; suppressed: number }>();
  private readonly rate: CommandRate;
  /** System mode: runs `sys` and `sysauth` commands. */
  private readonly operator: SystemOperator | undefined;

  constructor(
    private readonly deps: {
      readonly settings: TelegramSettings;
      readonly store: Store;
      readonly audit: AuditLog;
      readonly approvals: Approvals;
      readonly cards: Cards;
      readonly logger: Logger;
      /** Required in system mode. */
      readonly system?: SystemParts | undefined;
    },
  ) {
    // Long polls hold for 30 s; every other call answers far sooner.
    this.bot = new Bot<BotContext>(deps.settings.botToken, { client: { apiRoot: deps.settings.apiRoot, timeoutSeconds: 60 } });
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      try {
        const result = await prev(method, payload, signal);
        if (result.ok) this.lastError = null;
        else if (result.error_code === 401 || result.error_code >= 500) this.lastError = `${method}: ${result.error_code} ${result.description}`;
        return result;
      } catch (error) {
        if (!this.stopped) this.lastError = `${method}: ${messageOf(error)}`;
        throw error;
      }
    });
    this.rate = new CommandRate(deps.settings.commandsPerMinute);
    if (deps.settings.chatops === 'system') {
      if (!deps.system) throw new AirlockError('config_invalid', 'a system-mode Telegram bot needs the gateway, tokens and challenges of the API runtime');
      this.operator = new SystemOperator({ ...deps, ...deps.system, api: this.bot.api });
    }
    this.bot.use((ctx, next) => this.gate(ctx, next));
    // `sys …` and `sysauth …`, typed plainly, as a command or after the bot's @mention.
    this.bot.on('message:text', (ctx, next) => this.systemCommand(ctx, next));
    this.bot.command(['start', 'help'], (ctx) => this.reply(ctx, `This chat acts as <b>${escapeHtml(ctx.acting?.user.username ?? '')}</b> in Airlock.\n${this.help()}`));
    this.bot.command('whoami', (ctx) => this.whoami(ctx));
    this.bot.command('pending', (ctx) => this.pending(ctx));
    this.bot.command('status', (ctx) => this.status(ctx, ctx.match.trim()));
    this.bot.command('approve', (ctx) => {
      const [id = '', code] = ctx.match.trim().split(/\s+/);
      return this.decideByCommand(ctx, id, 'approve', code !== undefined && code !== '' ? { totp: code } : {});
    });
    this.bot.command('reject', (ctx) => {
      const text = ctx.match.trim();
      const id = text.split(/\s+/)[0] ?? '';
      const reason = text.slice(id.length).trim();
      if (reason === '') return this.reply(ctx, 'Say why: <code>/reject ID REASON</code>');
      return this.decideByCommand(ctx, id, 'reject', { reason: clip(reason, 2000) });
    });
    this.bot.callbackQuery(/^(approve|reject):(.+)$/, (ctx) => this.decideByButton(ctx, ctx.match[1] as 'approve' | 'reject', ctx.match[2] as string));
    this.bot.on('callback_query', (ctx) => ctx.answerCallbackQuery({ text: 'This button is not one of Airlock’s.' }));
    this.bot.on('message', (ctx) => this.reply(ctx, this.help()));
    this.bot.catch(async (error) => {
      deps.logger.warn({ error: messageOf(error.error), update: error.ctx.update.update_id }, 'telegram update failed');
      // Only a chat that passed the allowlist hears about it.
      if (error.ctx.acting) await this.reply(error.ctx, 'Airlock could not finish that just now (its log says why): check /status ID before trying again.').catch(() => undefined);
    });
  }

  get settings(): TelegramSettings {
    return this.deps.settings;
  }

  get mode(): 'polling' | 'webhook' {
    return this.deps.settings.mode;
  }

  /** Starts polling, or (webhook mode) learns the bot and registers the webhook; retried in the background. */
  start(): void {
    this.starting = this.mode === 'polling' ? this.poll() : this.prepareWebhook();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    this.operator?.stop();
    const atMost = (ms: number) => sleep(ms, undefined, { ref: false });
    // Stopping confirms the handled updates to Telegram; an unreachable Telegram must not hold the shutdown.
    if (this.mode === 'polling') await Promise.race([this.bot.stop().catch(() => undefined), atMost(5000)]);
    await Promise.race([this.starting, atMost(5000)]);
    this.running = false;
  }

  /** For /health: whether the bot is talking to Telegram, and the last failure if it is not. */
  health(): { healthy: boolean; mode: string; chatops: string; bot: string | null; chats: number; conflict: boolean; last_error: string | null } {
    const bot = this.bot.isInited() ? this.bot.botInfo.username : null;
    const { chatops, chats } = this.deps.settings;
    return { healthy: this.running && this.lastError === null, mode: this.mode, chatops, bot, chats: Object.keys(chats).length, conflict: this.conflicts > 0, last_error: this.lastError };
  }

  /** One update from the webhook route (its secret already checked). */
  async handleWebhook(update: Update): Promise<void> {
    if (!this.bot.isInited()) throw new AirlockError('telegram_not_ready', 'the Telegram bot has not reached Telegram yet', { status: 503 });
    await this.bot.handleUpdate(update);
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.bot.start({
          allowed_updates: [...ALLOWED_UPDATES],
          onStart: (info) => {
            this.running = true;
            if (this.conflicts > 0) this.deps.logger.info({ bot: info.username }, 'telegram: the other process that took this bot\'s updates is gone');
            this.conflicts = 0;
            this.deps.logger.info({ bot: info.username, chats: Object.keys(this.deps.settings.chats).length }, 'telegram bot polling');
          },
        });
        this.running = false;
      } catch (error) {
        this.running = false;
        if (this.stopped) return;
        this.lastError = messageOf(error);
        const unauthorized = error instanceof GrammyError && error.error_code === 401;
        if (error instanceof GrammyError && error.error_code === 409) {
          await this.waitOutConflict();
          continue;
        }
        this.deps.logger.error({ error: messageOf(error) }, unauthorized ? 'telegram refused the bot token: the bot is off until the configuration changes' : 'telegram polling stopped; trying again');
        if (unauthorized) return;
        await sleep(RETRY_MS, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Telegram gives a bot's updates to one process: a 409 Conflict means another one (an instance with
   * the same bot token, or a webhook) has them. Said once in the log and plainly in /health, then tried
   * again less and less often (say, an old process still stopping), never in a tight loop.
   */
  private async waitOutConflict(): Promise<void> {
    this.conflicts += 1;
    const delay = Math.min(RETRY_MS * 2 ** (this.conflicts - 1), CONFLICT_RETRY_MAX_MS);
    this.lastError = `409 Conflict: another process is taking this bot's updates (an Airlock instance with the same bot token, or a webhook); give each instance its own bot. Trying again in ${Math.round(delay / 1000)} s (try ${this.conflicts})`;
    if (this.conflicts === 1) this.deps.logger.error({ bot: this.bot.isInited() ? this.bot.botInfo.username : null }, 'telegram: 409 Conflict, another process is taking this bot\'s updates: give each instance its own bot token; trying again less and less often');
    await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  private async prepareWebhook(): Promise<void> {
    const { webhookUrl, webhookSecret } = this.deps.settings;
    while (!this.stopped) {
      try {
        await this.bot.init();
        if (webhookUrl) await this.bot.api.setWebhook(webhookUrl, { secret_token: webhookSecret as string, allowed_updates: [...ALLOWED_UPDATES] });
        this.running = true;
        this.deps.logger.info({ bot: this.bot.botInfo.username, webhook: webhookUrl ?? '(registered elsewhere)' }, 'telegram bot on its webhook');
        return;
      } catch (error) {
        if (this.stopped) return;
        this.lastError = messageOf(error);
        const unauthorized = error instanceof GrammyError && error.error_code === 401;
        this.deps.logger.error({ error: messageOf(error) }, unauthorized ? 'telegram refused the bot token: the bot is off until the configuration changes' : 'telegram webhook setup failed; trying again');
        if (unauthorized) return;
        await sleep(RETRY_MS, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** The allowlist: an unknown chat gets nothing at all; an allowlisted one acts as its user, if that user is active. */
  private async gate(ctx: BotContext, next: NextFunction): Promise<void> {
    if (ctx.chatId === undefined) return;
    const chat = String(ctx.chatId);
    // Only new messages and button presses act: an edited message (which commands would otherwise match) never runs.
    if (ctx.update.message === undefined && ctx.update.callback_query === undefined) {
      await this.refuse(ctx, chat, 'update_ignored');
      return;
    }
    const { chats, chatops, systemAdmins } = this.deps.settings;
    if (chats[chat] === undefined) {
      await this.refuse(ctx, chat, 'chat_not_allowed');
      return;
    }
    const group = ctx.chat?.type !== 'private';
    // In a group only what is addressed to the bot counts; a command-like line that is not is audited.
    if (group && ctx.message && !addressedToBot(ctx.message, this.bot.botInfo)) {
      if (/^\s*(\/|sys)/i.test(ctx.message.text ?? '')) await this.refuse(ctx, chat, 'not_addressed');
      return;
    }
    // A group acts as its user, except in system mode: there each sender must be allowlisted themselves
    // (their private chat), so a group never lends one person's rights to everyone in it.
    const as = chatops === 'system' && group ? (ctx.from ? String(ctx.from.id) : undefined) : chat;
    const username = as === undefined ? undefined : chats[as];
    if (username === undefined) {
      await this.refuse(ctx, chat, 'sender_not_allowed');
      return;
    }
    const user = await this.deps.store.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    if (!user || user.status !== 'active') {
      await this.refuse(ctx, chat, user ? 'user_disabled' : 'user_unknown', username);
      await this.reply(ctx, `This chat is mapped to <b>${escapeHtml(username)}</b>, who is not an active Airlock user. Nothing was done.`);
      return;
    }
    const principal = telegramPrincipal(user, as as string);
    if (chatops === 'system' && !systemAdmins.includes(user.username)) {
      await this.refuseChatops(ctx, principal, 'not_system_admin');
      const text = `This bot runs in <b>system</b> mode: only its system admins may use it, and <b>${escapeHtml(user.username)}</b> is not one. Nothing was done.`;
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: plain(text), show_alert: true });
      else await this.reply(ctx, text);
      return;
    }
    ctx.acting = { chat, user, principal };
    await next();
  }

  /** `sys …` / `sysauth …`: run in system mode, refused in session mode, help otherwise. */
  private async systemCommand(ctx: BotContext, next: NextFunction): Promise<void> {
    const words = commandWords(ctx.message?.text ?? '', this.bot.botInfo.username);
    const verb = words[0];
    if (verb !== 'sys' && verb !== 'sysauth') return next();
    if (!this.operator) {
      if (this.deps.settings.chatops === 'session') {
        await this.refuseChatops(ctx, (ctx.acting as Acting).principal, 'session_mode');
        await this.reply(ctx, 'This bot runs in <b>session</b> mode: it handles requests and approvals only, never system operations. Nothing was run.');
      } else await this.reply(ctx, this.help());
      return;
    }
    const { chat, user, principal } = ctx.acting as Acting;
    if (!this.rate.take(user.id)) {
      await this.refuseChatops(ctx, principal, 'rate_limited');
      await this.reply(ctx, `Slow down: at most ${this.deps.settings.commandsPerMinute} commands a minute. Nothing was run.`);
      return;
    }
    const conversation = { chat, messageId: ctx.message?.message_id as number, user, principal, command: redactedCommand(words) };
    if (verb === 'sys') await this.operator.sys(conversation, words.slice(1));
    else await this.operator.sysauth(conversation, words.slice(1));
  }

  private help(): string {
    return this.deps.settings.chatops === 'system' ? SYSTEM_HELP : HELP;
  }

  /** Whether a refusal under `key` was audited within the window (then it is counted, not audited again). */
  private suppressed(key: string): boolean {
    const now = Date.now();
    const seen = this.refusals.get(key);
    if (seen && seen.until > now) {
      seen.suppressed += 1;
      return true;
    }
    if (this.refusals.size > 10_000) this.refusals.clear();
    this.refusals.set(key, { until: now + REFUSAL_WINDOW_MS, suppressed: 0 });
    return false;
  }

  private async refuse(ctx: BotContext, chat: string, reason: string, username?: string): Promise<void> {
    const key = `${chat}:${reason}`;
    const seen = this.refusals.get(key);
    const skipped = seen?.suppressed ?? 0;
    if (this.suppressed(key)) return;
    const text = ctx.message?.text;
    await this.deps.audit.record({
      actor: `telegram:${chat}`,
      action: 'telegram.refused',
      data: {
        chat_id: chat,
        reason,
        update: ctx.callbackQuery ? 'callback_query' : ctx.message ? 'message' : (Object.keys(ctx.update).find((field) => field !== 'update_id') ?? 'unknown'),
        from_id: ctx.from?.id ?? null,
        from_username: ctx.from?.username ?? null,
        ...(text?.startsWith('/') ? { command: clip(text.split(/\s/)[0] as string, 40) } : {}),
        ...(username ? { username } : {}),
        ...(skipped ? { refused_since_last: skipped } : {}),
      },
    });
  }

  private reply(ctx: BotContext, html: string): Promise<unknown> {
    return ctx.reply(html, { parse_mode: 'HTML', link_preview_options: { is_disabled: true } });
  }

  /** Whether the acting user's role grants `scope`; a refusal is audited as the API's would be, and answered. */
  private async allowed(ctx: BotContext, scope: Scope): Promise<boolean> {
    const acting = ctx.acting as Acting;
    if (hasScope(acting.principal.scopes, scope)) return true;
    await this.deps.audit.record({ actor: actorOf(acting.principal), action: 'auth.denied', data: { scope, ...originOf(acting.principal) } });
    const text = `<b>${escapeHtml(acting.user.username)}</b> (${escapeHtml(acting.user.role)}) may not do that: it needs ${escapeHtml(scope)}.`;
    if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: plain(text), show_alert: true });
    else await this.reply(ctx, text);
    return false;
  }

  private async whoami(ctx: BotContext): Promise<void> {
    const { chat, user, principal } = ctx.acting as Acting;
    const yes = (scope: Scope) => (hasScope(principal.scopes, scope) ? 'yes' : 'no');
    await this.reply(
      ctx,
      [
        `This chat (<code>${escapeHtml(chat)}</code>) acts as <b>${escapeHtml(user.username)}</b> (${escapeHtml(user.role)}).`,
        `May read requests: ${yes('approvals:read')} · may decide them: ${yes('approvals:decide')}`,
        `Bot mode: ${escapeHtml(this.deps.settings.chatops)} (${MODES[this.deps.settings.chatops]})`,
        ...(this.operator ? [`System admin: yes · sys commands run on <code>${escapeHtml(this.deps.settings.system.target)}</code>${this.deps.settings.system.environment ? ` in ${escapeHtml(this.deps.settings.system.environment)}` : ''} unless they say --target / --env`] : []),
        `TOTP: ${user.totp_secret ? 'enrolled (HIGH and CRITICAL approvals take your current code)' : 'not enrolled (HIGH and CRITICAL requests cannot be approved)'}`,
      ].join('\n'),
    );
  }

  /**
   * A system-operations refusal, audited with the chat and message ids: a session-mode bot, a person who
   * is not a system admin, a person over their rate.
   */
  private async refuseChatops(ctx: BotContext, principal: Principal, reason: string): Promise<void> {
    const chat = String(ctx.chatId);
    // Over the rate, only the first refusal of a minute is audited: a flood must not flood the chain.
    if (reason === 'rate_limited' && this.suppressed(`${chat}:${principal.userId}:${reason}`)) return;
    await this.deps.audit.record({
      actor: actorOf(principal),
      action: 'telegram.chatops_refused',
      data: {
        chat_id: chat,
        message_id: ctx.message?.message_id ?? null,
        reason,
        command: clip(redactedCommand((ctx.message?.text ?? (ctx.callbackQuery ? 'button' : '')).split(/\s+/).slice(0, 2)), 40),
        ...originOf(principal),
      },
    });
  }

  private async pending(ctx: BotContext): Promise<void> {
    if (!(await this.allowed(ctx, 'approvals:read'))) return;
    const views = await this.deps.approvals.list({ status: 'PENDING', limit: 100 });
    await this.reply(ctx, pendingList(views.slice(0, 15), views.length));
  }

  private async status(ctx: BotContext, id: string): Promise<void> {
    if (!ID.test(id)) {
      await this.reply(ctx, 'Name the request: <code>/status ID</code>');
      return;
    }
    if (!(await this.allowed(ctx, 'approvals:read'))) return;
    try {
      await this.reply(ctx, (await this.deps.cards.of(id)).text);
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      await this.reply(ctx, escapeHtml(error.message));
    }
  }

  private async decideByCommand(ctx: BotContext, id: string, decision: 'approve' | 'reject', input: { totp?: string; reason?: string }): Promise<void> {
    if (!ID.test(id)) {
      await this.reply(ctx, decision === 'approve' ? 'Name the request: <code>/approve ID</code> (with your TOTP code where it needs one)' : 'Name the request and say why: <code>/reject ID REASON</code>');
      return;
    }
    if (!(await this.allowed(ctx, 'approvals:decide'))) return;
    const answer = await this.decide(ctx, id, decision, input);
    // The code must not stay in the chat, whether it worked or not.
    const kept = input.totp !== undefined && !(await deleteCodeMessage(this.bot.api, String(ctx.chatId), ctx.message?.message_id as number, this.deps.logger));
    await this.reply(ctx, answer.html + (kept ? '\n(Delete the message with your code yourself: this bot may not.)' : ''));
  }

  private async decideByButton(ctx: BotContext, decision: 'approve' | 'reject', id: string): Promise<void> {
    if (!ID.test(id)) {
      await ctx.answerCallbackQuery({ text: 'This button names no request.' });
      return;
    }
    if (!(await this.allowed(ctx, 'approvals:decide'))) return;
    const answer = await this.decide(ctx, id, decision, {});
    await ctx.answerCallbackQuery({ text: clip(plain(answer.html), 200), show_alert: answer.alert });
    // A code cannot be typed into a button: say what to send, in a message the command can be copied from.
    if (answer.code === 'step_up_required') await this.reply(ctx, answer.html);
  }

  /** One decision as the chat's user; the decision service checks and audits it (with the chat id). */
  private async decide(ctx: BotContext, id: string, decision: 'approve' | 'reject', input: { totp?: string; reason?: string }): Promise<{ html: string; alert: boolean; code?: string }> {
    const { principal } = ctx.acting as Acting;
    try {
      const view = await this.deps.approvals.decide(principal, id, decision, input);
      return { html: decided(view, decision), alert: false };
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      return { html: refusal(error, id), alert: true, code: error.code };
    }
  }
}

function decided(view: ApprovalView, decision: 'approve' | 'reject'): string {
  const id = `<code>${escapeHtml(view.request_id)}</code>`;
  if (decision === 'reject') return `❌ Rejected request ${id}.`;
  const names = escapeHtml(view.approvals.map((approval) => approval.username).join(', '));
  const count = `${view.approvals.length} of ${view.required_approvals} approvals`;
  if (view.status === 'PENDING') return `✅ Your approval counts: ${count} (${names}). Another person must approve it too.`;
  return `✅ Approved request ${id}${view.required_approvals > 1 ? ` (${count}: ${names})` : ''}.`;
}

function refusal(error: AirlockError, id: string): string {
  switch (error.code) {
    case 'step_up_required': {
      const level = typeof error.details?.risk_level === 'string' ? `${error.details.risk_level} ` : '';
      return `This ${escapeHtml(level)}request needs your TOTP code: send /approve ${escapeHtml(id)} &lt;your TOTP code&gt;\n<code>/approve ${escapeHtml(id)} </code>`;
    }
    case 'self_approval':
      return 'You asked for this request: someone else must decide it. Nothing was decided.';
    case 'already_decided':
      return 'You have already approved this request: another person must approve it too.';
    case 'totp_invalid':
      return 'That TOTP code is not valid. Nothing was decided.';
    case 'totp_replayed':
      return 'That TOTP code was used already: wait for the next one. Nothing was decided.';
    case 'totp_not_enrolled':
      return 'You have no TOTP enrolled in Airlock (<code>airlock totp enroll</code>), so you cannot approve requests that need a code.';
    default:
      return `${escapeHtml(error.message)}. Nothing was decided.`;
  }
}
