import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Bot API call as the stand-in received it. */
export interface TelegramCall {
  readonly method: string;
  readonly params: Record<string, any>;
  /** performance.now() when it arrived. */
  readonly at: number;
  /** What the stand-in answered with, once it did (`result` of a successful call). */
  result?: any;
}

interface StoredMessage {
  chatId: string;
  messageId: number;
  text: string;
  markup: string;
}

type Update = Record<string, any> & { update_id: number };

/** A file the bot sent (sendDocument), as the chat received it. */
export interface SentDocument {
  readonly chatId: string;
  readonly filename: string;
  readonly content: Buffer;
  readonly replyTo: number | null;
}

/**
 * A local stand-in for the Telegram Bot API: a plain HTTP server answering `/bot<token>/<method>` the way
 * Telegram does (`{ok, result}` or `{ok: false, error_code, description}`) for the methods Airlock uses:
 * getMe, getUpdates (a real long poll over the updates a test injects), deleteWebhook, setWebhook,
 * sendMessage, editMessageText, answerCallbackQuery, deleteMessage and sendDocument (a real multipart
 * upload). It keeps the messages it was sent, so edits of a
 * message that does not exist, and edits that change nothing, fail as they do on Telegram. Every call is
 * recorded. Tests inject what people do: a text message (a command) or a button press.
 */
export class TelegramStandIn {
  readonly calls: TelegramCall[] = [];
  readonly documents: SentDocument[] = [];
  /** Messages the bot deleted, as `chat:message`. */
  readonly deleted = new Set<string>();
  /** When false, deleteMessage fails as it does in a group where the bot is no admin. */
  mayDelete = true;
  /** Told of every call as it arrives (before it is answered). */
  onCall: ((call: TelegramCall) => void) | undefined;
  private readonly updates: Update[] = [];
  private readonly messages = new Map<string, StoredMessage>();
  private readonly waiting = new Set<() => void>();
  private readonly failures: Array<{ method: string; error_code: number; description: string }> = [];
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private nextCallbackId = 1;

  private constructor(
    private readonly server: Server,
    readonly token: string,
    readonly apiRoot: string,
  ) {}

  static async start(token: string): Promise<TelegramStandIn> {
    let standIn: TelegramStandIn | undefined;
    const server = createServer((request, response) => {
      void standIn?.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    standIn = new TelegramStandIn(server, token, `http://127.0.0.1:${port}`);
    return standIn;
  }

  async close(): Promise<void> {
    for (const wake of this.waiting) wake();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** The calls of one method, optionally only those whose parameters pass `where`. */
  callsOf(method: string, where: (params: Record<string, any>) => boolean = () => true): TelegramCall[] {
    return this.calls.filter((call) => call.method === method && where(call.params));
  }

  /** Waits (polling, generously) until `count` calls of `method` pass `where`; returns them. */
  async waitFor(method: string, where: (params: Record<string, any>) => boolean = () => true, options: { count?: number; timeoutMs?: number } = {}): Promise<TelegramCall[]> {
    const count = options.count ?? 1;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const found = this.callsOf(method, where);
      if (found.length >= count) return found;
      if (Date.now() > deadline) {
        throw new Error(`the stand-in saw ${found.length} of ${count} ${method} call(s) matching; calls so far:\n${this.calls.map((call) => `${call.method} ${JSON.stringify(call.params)}`).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The next call of `method` is answered with this error instead (Telegram down, rate limited, …). */
  failNext(method: string, error_code: number, description: string): void {
    this.failures.push({ method, error_code, description });
  }

  /** A message disappears (deleted in the chat): editing it fails from now on. */
  forget(chatId: number | string, messageId: number): void {
    this.messages.delete(`${chatId}:${messageId}`);
  }

  /** A person types `text` in a private chat (commands get their bot_command entity, as Telegram sends them). */
  sendText(chatId: number, text: string, from: { id?: number; username?: string } = {}): number {
    return this.inject({ message: this.message(chatId, text, from) });
  }

  /**
   * A person types `text` in a private chat, or (`group`) in a group, optionally as a reply to one of the
   * bot's messages; returns the new message's id (what the bot replies to, or deletes).
   */
  say(chatId: number, text: string, options: { from?: number; group?: boolean; replyTo?: number } = {}): number {
    const message = this.message(chatId, text, { ...(options.from !== undefined ? { id: options.from } : {}) });
    if (options.group) message.chat = { id: chatId, type: 'group', title: 'Ops' };
    if (options.replyTo !== undefined) message.reply_to_message = { message_id: options.replyTo, date: message.date, chat: message.chat, from: BOT, text: '…' };
    this.inject({ message });
    return message.message_id as number;
  }

  private message(chatId: number, text: string, from: { id?: number; username?: string }): Record<string, any> {
    const command = /^\/\S+/.exec(text)?.[0];
    return {
      message_id: this.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: 'private', first_name: 'Tester' },
      from: { id: from.id ?? chatId, is_bot: false, first_name: 'Tester', ...(from.username ? { username: from.username } : {}) },
      text,
      ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command.length }] } : {}),
    };
  }

  /** A person presses an inline button of a message in a private chat; returns the callback query id. */
  press(chatId: number, data: string, messageId = 1): string {
    const id = String(this.nextCallbackId++);
    this.inject({
      callback_query: {
        id,
        from: { id: chatId, is_bot: false, first_name: 'Tester' },
        chat_instance: `instance-${chatId}`,
        data,
        message: { message_id: messageId, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: 'private', first_name: 'Tester' }, text: 'a request' },
      },
    });
    return id;
  }

  /** Queues an update for the next getUpdates (waking a long poll at once); returns its update_id. */
  inject(update: Record<string, any>): number {
    const full = { update_id: this.nextUpdateId++, ...update };
    this.updates.push(full);
    for (const wake of this.waiting) wake();
    return full.update_id;
  }

  /** An update as Telegram would post it to a webhook. */
  update(update: Record<string, any>): Update {
    return { update_id: this.nextUpdateId++, ...update };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(new URL(request.url ?? '/', 'http://stand-in').pathname);
    const params = await readParams(request);
    if (!match) return send(response, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, method] = match as unknown as [string, string, string];
    const call: TelegramCall = { method, params, at: performance.now() };
    this.calls.push(call);
    this.onCall?.(call);
    if (token !== this.token) return send(response, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const failure = this.failures.findIndex((candidate) => candidate.method === method);
    if (failure >= 0) {
      const { error_code, description } = this.failures.splice(failure, 1)[0] as { error_code: number; description: string };
      return send(response, error_code, { ok: false, error_code, description });
    }
    const answer = await this.answer(method, params, response);
    if ('error_code' in answer) return send(response, answer.error_code, { ok: false, ...answer });
    call.result = answer.result;
    return send(response, 200, { ok: true, result: answer.result });
  }

  private async answer(method: string, params: Record<string, any>, response: ServerResponse): Promise<{ result: unknown } | { error_code: number; description: string }> {
    switch (method) {
      case 'getMe':
        return { result: { ...BOT, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } };
      case 'deleteMessage':
        if (!this.mayDelete) return { error_code: 400, description: "Bad Request: message can't be deleted" };
        this.deleted.add(`${params.chat_id}:${params.message_id}`);
        return { result: true };
      case 'sendDocument': {
        const file = params.document as { name: string; content: Buffer } | undefined;
        if (!file || typeof file !== 'object') return { error_code: 400, description: 'Bad Request: there is no document in the request' };
        const replyTo = params.reply_parameters ? Number(JSON.parse(String(params.reply_parameters)).message_id) : null;
        this.documents.push({ chatId: String(params.chat_id), filename: file.name, content: file.content, replyTo });
        return { result: { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat: { id: Number(params.chat_id), type: 'private' }, from: BOT, document: { file_id: `file-${this.documents.length}`, file_name: file.name, file_size: file.content.length } } };
      }
      case 'deleteWebhook':
      case 'setWebhook':
      case 'answerCallbackQuery':
        return { result: true };
      case 'getUpdates':
        return { result: await this.getUpdates(params, response) };
      case 'sendMessage': {
        const chatId = String(params.chat_id);
        const message: StoredMessage = { chatId, messageId: this.nextMessageId++, text: String(params.text), markup: JSON.stringify(params.reply_markup ?? null) };
        this.messages.set(`${chatId}:${message.messageId}`, message);
        return { result: this.messageOf(message) };
      }
      case 'editMessageText': {
        const message = this.messages.get(`${params.chat_id}:${params.message_id}`);
        if (!message) return { error_code: 400, description: 'Bad Request: message to edit not found' };
        const markup = JSON.stringify(params.reply_markup ?? null);
        if (message.text === String(params.text) && message.markup === markup) {
          return { error_code: 400, description: 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message' };
        }
        message.text = String(params.text);
        message.markup = markup;
        return { result: this.messageOf(message) };
      }
      default:
        return { error_code: 404, description: 'Not Found: method not found' };
    }
  }

  private messageOf(message: StoredMessage) {
    const markup = JSON.parse(message.markup) as unknown;
    return {
      message_id: message.messageId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: Number(message.chatId), type: 'private', first_name: 'Tester' },
      from: BOT,
      text: message.text,
      ...(markup ? { reply_markup: markup } : {}),
    };
  }

  /** A long poll: confirms the updates before `offset`, answers at once with what is queued, else waits. */
  private async getUpdates(params: Record<string, any>, response: ServerResponse): Promise<Update[]> {
    const offset = Number(params.offset ?? 0);
    const limit = Number(params.limit ?? 100);
    const timeoutMs = Number(params.timeout ?? 0) * 1000;
    while (this.updates.length > 0 && (this.updates[0] as Update).update_id < offset) this.updates.shift();
    if (this.updates.length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        this.waiting.add(wake);
        // The poller gave up (aborted, stopped): stop waiting for it.
        response.once('close', wake);
      });
    }
    return this.updates.slice(0, limit);
  }
}

/** The bot as the stand-in presents it (getMe, and the sender of its messages). */
export const BOT = { id: 424242, is_bot: true, first_name: 'Airlock', username: 'airlock_test_bot' } as const;

async function readParams(request: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const body = raw.toString('utf8');
  const query = Object.fromEntries(new URL(request.url ?? '/', 'http://stand-in').searchParams);
  if (body === '') return query;
  const type = request.headers['content-type'] ?? '';
  if (type.includes('application/json')) return { ...query, ...(JSON.parse(body) as Record<string, any>) };
  if (type.includes('multipart/form-data')) return { ...query, ...readMultipart(raw, type) };
  return { ...query, ...Object.fromEntries(new URLSearchParams(body)) };
}

/**
 * A multipart upload (sendDocument) as Telegram reads it: fields, and `attach://name` resolved to its
 * file part. Read by hand: grammy writes headers as `content-disposition:form-data;name="x";filename=a.txt`
 * (no spaces, an unquoted file name), which Telegram accepts and stricter parsers refuse.
 */
function readMultipart(raw: Buffer, type: string): Record<string, any> {
  const boundary = Buffer.from(`--${/boundary=([^;]+)/.exec(type)?.[1] ?? ''}`);
  const fields: Record<string, any> = {};
  const files = new Map<string, { name: string; content: Buffer }>();
  let at = raw.indexOf(boundary);
  while (at >= 0) {
    const start = at + boundary.length + 2;
    const next = raw.indexOf(boundary, start);
    if (next < 0) break;
    const part = raw.subarray(start, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /name="([^"]*)"/.exec(headers)?.[1] ?? '';
    const filename = /filename="?([^";\r\n]+)"?/.exec(headers)?.[1];
    if (filename !== undefined) files.set(name, { name: filename, content: Buffer.from(content) });
    else fields[name] = content.toString('utf8');
    at = next;
  }
  for (const [key, value] of Object.entries(fields)) {
    const attached = typeof value === 'string' && value.startsWith('attach://') ? files.get(value.slice('attach://'.length)) : undefined;
    if (attached) fields[key] = attached;
  }
  return fields;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.destroyed) return;
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
