import type { Message } from 'grammy/types';

/**
 * Whether a message in a group is meant for the bot: it starts with the bot's @mention, is a command
 * addressed to it (`/sys@bot …`) or replies to one of its messages. Anything else in a group is
 * people talking to each other and is never read as a command.
 */
export function addressedToBot(message: Message, bot: { id: number; username: string }): boolean {
  if (message.reply_to_message?.from?.id === bot.id) return true;
  const text = (message.text ?? '').trimStart().toLowerCase();
  const mention = `@${bot.username.toLowerCase()}`;
  const first = text.split(/\s/, 1)[0] ?? '';
  return first === mention || (first.startsWith('/') && first.endsWith(mention));
}

/**
 * The words of a command: a leading @mention dropped, the verb without its `/` and `@bot` suffix and in
 * lower case; the arguments exactly as typed (paths and base64 are case-sensitive).
 */
export function commandWords(text: string, botUsername: string | undefined): string[] {
  const words = text.trim().split(/\s+/).filter((word) => word !== '');
  if (botUsername && words[0]?.toLowerCase() === `@${botUsername.toLowerCase()}`) words.shift();
  if (words[0] !== undefined) words[0] = words[0].replace(/^\//, '').replace(/@\S*$/, '').toLowerCase();
  return words;
}

/** A command sender's recent commands, to hold each person to so many a minute. */
export class CommandRate {
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly perMinute: number) {}

  /** Counts one command of `who`; false (and not counted) when they are over the limit. */
  take(who: string, now = Date.now()): boolean {
    const times = (this.recent.get(who) ?? []).filter((time) => time > now - 60_000);
    if (times.length >= this.perMinute) {
      this.recent.set(who, times);
      return false;
    }
    times.push(now);
    if (this.recent.size > 10_000) this.recent.clear();
    this.recent.set(who, times);
    return true;
  }
}
