import type { Logger } from 'pino';
import type { Approvals } from '../../approvals/index.js';
import type { AuditLog } from '../../audit/index.js';
import type { Store } from '../../store/index.js';
import { TelegramBot, type SystemParts, type TelegramSettings } from './bot.js';
import { Cards } from './cards.js';
import { TelegramChannel, mayDecide } from './channel.js';

export { TelegramBot, telegramPrincipal, type SystemParts, type TelegramSettings } from './bot.js';
export { TelegramChannel, CHANNEL_NAME } from './channel.js';
export { telegramRoutes, WEBHOOK_PATH } from './routes.js';
export { escapeHtml } from './format.js';

/**
 * Telegram as a whole: the bot people talk to and the delivery channel that announces and updates
 * requests. A system-mode bot has no delivery channel: it answers its system admins' commands (and asks
 * the others to decide what they request); requests at large are announced by the deployment's
 * approval bot, so two bots on one database never compete for one delivery.
 */
export class Telegram {
  readonly bot: TelegramBot;
  readonly channel: TelegramChannel | undefined;

  constructor(deps: { settings: TelegramSettings; store: Store; audit: AuditLog; approvals: Approvals; logger: Logger; system?: SystemParts }) {
    const cards = new Cards(deps.store, deps.approvals);
    this.bot = new TelegramBot({ ...deps, cards });
    this.channel = deps.settings.chatops === 'system' ? undefined : new TelegramChannel({ store: deps.store, cards, api: this.bot.bot.api, chats: deps.settings.chats });
  }

  get settings(): TelegramSettings {
    return this.bot.settings;
  }

  start(): void {
    this.bot.start();
  }

  stop(): Promise<void> {
    return this.bot.stop();
  }
}

/**
 * What is wrong with the allowlist against the users table: chats mapped to usernames that do not exist
 * or are disabled, and users whose role cannot decide (they get /status and /pending, never a request).
 * A system-mode bot's system admins must be active users too; one without a chat or without TOTP, and a
 * chat of someone who is no system admin, are noted.
 */
export async function allowlistProblems(
  store: Store | undefined,
  chats: Readonly<Record<string, string>>,
  system: { readonly chatops: string; readonly systemAdmins: readonly string[] } = { chatops: 'off', systemAdmins: [] },
): Promise<{ problems: string[]; notes: string[] }> {
  const admins = system.chatops === 'system' ? system.systemAdmins : [];
  const usernames = [...new Set([...Object.values(chats), ...admins])];
  if (usernames.length === 0) return { problems: [], notes: [] };
  const users = store ? await store.db.selectFrom('users').select(['username', 'role', 'status', 'totp_secret']).where('username', 'in', usernames).execute() : [];
  const problems: string[] = [];
  const notes: string[] = [];
  for (const [chat, username] of Object.entries(chats)) {
    const user = users.find((candidate) => candidate.username === username);
    if (!user) problems.push(`telegram.chats: chat ${chat} is mapped to "${username}", who is not an Airlock user`);
    else if (user.status !== 'active') problems.push(`telegram.chats: chat ${chat} is mapped to "${username}", whose account is disabled`);
    else if (system.chatops === 'system' && !admins.includes(username)) notes.push(`telegram.chats: "${username}" is no system admin: chat ${chat} is refused in system mode`);
    else if (!mayDecide(user.role)) notes.push(`telegram.chats: "${username}" (${user.role}) may not decide requests: chat ${chat} gets /status and /pending only`);
  }
  for (const username of admins) {
    const user = users.find((candidate) => candidate.username === username);
    if (!user) problems.push(`telegram.systemAdmins: "${username}" is not an Airlock user`);
    else if (user.status !== 'active') problems.push(`telegram.systemAdmins: "${username}"'s account is disabled`);
    else {
      if (!Object.values(chats).includes(username)) notes.push(`telegram.systemAdmins: "${username}" has no chat in telegram.chats, so cannot use the bot`);
      if (!user.totp_secret) notes.push(`telegram.systemAdmins: "${username}" has no TOTP, so cannot approve challenges (airlock chatops init makes one)`);
    }
  }
  return { problems, notes };
}
