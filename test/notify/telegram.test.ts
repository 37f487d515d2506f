import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson, type Person } from '../helpers/identity.js';
import { TelegramStandIn } from '../helpers/telegram.js';

const TOKEN = '123456789:stand-in-token-for-the-tests_abcdef';
const APPROVER_CHAT = 1001; // the gate's approver (a person with TOTP)
const ALICE_CHAT = 1002; // a second approver
const DANA_CHAT = 1003; // an admin who also asks for things
const ERIN_CHAT = 1004; // an auditor: reads, never decides
const STRANGER_CHAT = 9999; // on no list
const DECIDERS = [APPROVER_CHAT, ALICE_CHAT, DANA_CHAT];

/** The callback data of an announcement's first button. */
function buttonOf(params: Record<string, any>): string | undefined {
  return params.reply_markup?.inline_keyboard?.[0]?.[0]?.callback_data;
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each(storeKinds())('Telegram approvals (%s)', (kind) => {
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let alice: Person;
  let dana: Person & { key: string };

  beforeAll(async () => {
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate(kind, {
      telegram: {
        botToken: TOKEN,
        apiRoot: standIn.apiRoot,
        chats: { [APPROVER_CHAT]: 'approver', [ALICE_CHAT]: 'alice', [DANA_CHAT]: 'dana', [ERIN_CHAT]: 'erin' },
      },
      events: { retryBaseMs: 50 },
    });
    const runtime = gate.server.runtime;
    alice = await createPerson(runtime, 'alice', 'approver');
    const danaPerson = await createPerson(runtime, 'dana', 'admin');
    const danaKey = await runtime.keys.create({ name: 'dana', scopes: ['approvals:request', 'approvals:read'], owner: 'dana', actor: 'test' });
    dana = Object.assign(danaPerson, { key: danaKey.key });
    await createPerson(runtime, 'erin', 'auditor');
  });

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
  });

  /** Asks (as the agent unless a key is given) and returns the request's id. */
  async function ask(command: string, key?: string): Promise<string> {
    const created = await gate.request({ command, deployment_env: 'dev' }, key);
    expect(created.status, created.text).toBe(201);
    return created.body.request.request_id as string;
  }

  /** The announcements of a request (messages with its buttons), once `chats` have one each. */
  async function announcements(id: string, chats = DECIDERS) {
    const calls = await standIn.waitFor('sendMessage', (params) => buttonOf(params) === `approve:${id}`, { count: chats.length });
    return calls;
  }

  /** The edits of a request's messages that show `text`, once every one of `chats` has one. */
  async function edits(id: string, text: string, chats = DECIDERS) {
    await poll(`edits of ${id} showing ${text}`, async () => {
      const shown = new Set(standIn.callsOf('editMessageText', (params) => params.text.includes(id) && params.text.includes(text)).map((call) => String(call.params.chat_id)));
      return chats.every((chat) => shown.has(String(chat))) ? true : undefined;
    });
    return standIn.callsOf('editMessageText', (params) => params.text.includes(id) && params.text.includes(text));
  }

  /** Replies of the bot in a chat (messages without buttons) that contain `text`. */
  function replies(chat: number, text: string) {
    return standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(chat) && buttonOf(params) === undefined && params.text.includes(text));
  }

  async function statusOf(id: string): Promise<string> {
    const response = await gate.get(id);
    return response.body.request.status as string;
  }

  async function auditOf(action: string) {
    const rows = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute();
    return rows.map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, any> }));
  }

  it('announces a pending request, with Approve / Reject buttons, in every allowlisted chat whose user may decide it', async () => {
    const id = await ask('kill -0 1');
    const calls = await announcements(id);
    expect(calls.map((call) => String(call.params.chat_id)).sort()).toEqual(DECIDERS.map(String).sort());
    const [first] = calls;
    expect(first?.params.parse_mode).toBe('HTML');
    expect(first?.params.reply_markup).toEqual({ inline_keyboard: [[{ text: '✅ Approve', callback_data: `approve:${id}` }, { text: '❌ Reject', callback_data: `reject:${id}` }]] });
    const text = first?.params.text as string;
    expect(text).toContain('<b>MEDIUM</b>');
    expect(text).toContain('<pre>kill -0 1</pre>');
    expect(text).toContain('argv ["kill","-0","1"]');
    expect(text).toContain('<b>Target</b> local · <b>Environment</b> dev');
    expect(text).toContain('<b>Task</b> test task (worker test-worker, asked by svc-agent)');
    expect(text).toMatch(/<b>Instruction<\/b> \d+\/100/);
    expect(text).toContain('Waiting for a decision until');
    // Each message id is kept for the edits (written once Telegram has answered).
    const stored = await poll('the stored message ids', async () => {
      const rows = await gate.server.runtime.store.db.selectFrom('telegram_messages').selectAll().where('approval_id', '=', id).execute();
      return rows.length === DECIDERS.length ? rows : undefined;
    });
    expect(stored.map((row) => [row.chat_id, row.message_id]).sort()).toEqual(calls.map((call) => [String(call.params.chat_id), call.result.message_id]).sort());
    // Nobody else was told: not the auditor, not a stranger.
    expect(standIn.callsOf('sendMessage', (params) => params.text.includes(id) && [ERIN_CHAT, STRANGER_CHAT].map(String).includes(String(params.chat_id)))).toEqual([]);
  });

  it('escapes what the request says, and never announces what the policy approved by itself', async () => {
    const id = await ask('kill -0 1 "<b>&"');
    const [call] = await announcements(id);
    expect(call?.params.text).toContain('<pre>kill -0 1 "&lt;b&gt;&amp;"</pre>');
    const auto = await ask('echo auto-approved-here');
    expect(await statusOf(auto)).toBe('APPROVED');
    // A later request is announced, so the dispatcher has been past the auto-approved one.
    await announcements(await ask('kill -0 2'));
    expect(standIn.callsOf('sendMessage', (params) => params.text.includes(auto))).toEqual([]);
  });

  it('approves on a button press as the mapped user, and edits every message to show it, without buttons', async () => {
    const id = await ask('kill -0 1');
    const [mine] = await announcements(id).then((calls) => calls.filter((call) => String(call.params.chat_id) === String(APPROVER_CHAT)));
    const pressed = standIn.press(APPROVER_CHAT, `approve:${id}`, mine?.result.message_id);
    const [answer] = await standIn.waitFor('answerCallbackQuery', (params) => params.callback_query_id === pressed);
    expect(answer?.params.text).toContain(`Approved request ${id}`);
    expect(await statusOf(id)).toBe('APPROVED');
    const decided = (await auditOf('approval.decided')).filter((event) => event.subject_id === id);
    expect(decided).toHaveLength(1);
    expect(decided[0]?.actor).toBe('user:approver');
    expect(decided[0]?.data).toMatchObject({ decision: 'approve', final: true, via: 'telegram', chat_id: String(APPROVER_CHAT) });
    const edited = await edits(id, '<b>Approved</b> by approver');
    for (const edit of edited) expect(edit.params.reply_markup).toEqual({ inline_keyboard: [] });
  });

  it('edits the messages when the request is decided elsewhere (over HTTP)', async () => {
    const id = await ask('kill -0 1');
    await announcements(id);
    const rejected = await gate.decide(id, 'reject', gate.approver, 'not during the freeze');
    expect(rejected.status, rejected.text).toBe(200);
    const edited = await edits(id, '<b>Rejected</b> by approver: not during the freeze');
    for (const edit of edited) expect(edit.params.reply_markup).toEqual({ inline_keyboard: [] });
  });

  it('rejects on the Reject button, and /reject ID REASON rejects with the reason', async () => {
    const byButton = await ask('kill -0 1');
    await announcements(byButton);
    const pressed = standIn.press(ALICE_CHAT, `reject:${byButton}`);
    expect((await standIn.waitFor('answerCallbackQuery', (params) => params.callback_query_id === pressed))[0]?.params.text).toContain(`Rejected request ${byButton}`);
    await edits(byButton, '<b>Rejected</b> by alice');

    const byCommand = await ask('kill -0 1');
    await announcements(byCommand);
    standIn.sendText(ALICE_CHAT, `/reject ${byCommand}`);
    await replies(ALICE_CHAT, 'Say why');
    expect(await statusOf(byCommand)).toBe('PENDING');
    standIn.sendText(ALICE_CHAT, `/reject ${byCommand} wrong host <really>`);
    await replies(ALICE_CHAT, `Rejected request <code>${byCommand}</code>`);
    await edits(byCommand, '<b>Rejected</b> by alice: wrong host &lt;really&gt;');
  });

  it('shows the exit code once the approved request has run', async () => {
    const id = await ask('kill -0 1');
    await announcements(id);
    expect((await gate.decide(id, 'approve')).status).toBe(200);
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: id, command: 'kill -0 1', environment: 'dev' } });
    const ran = await execute(gate.url, minted.body.token, { command: 'kill -0 1', approval_id: id, environment: 'dev' });
    expect(ran.status, ran.text).toBe(200);
    await edits(id, `<b>Executed</b>: ${ran.body.success ? 'succeeded' : 'failed'}, exit code ${ran.body.exit_code}`);
  });

  it('shows that a request expired', async () => {
    const id = await ask('kill -0 1');
    await announcements(id);
    const runtime = gate.server.runtime;
    await runtime.store.db.updateTable('approvals').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute();
    expect(await runtime.approvals.expireDue()).toBeGreaterThanOrEqual(1);
    await edits(id, '<b>Expired</b>: nobody decided in time');
  });

  it('gives chats that are not on the allowlist no answer at all, and audits them', async () => {
    const id = await ask('kill -0 1');
    await announcements(id);
    standIn.sendText(STRANGER_CHAT, '/pending', { username: 'mallory' });
    const pressed = standIn.press(STRANGER_CHAT, `approve:${id}`);
    standIn.sendText(STRANGER_CHAT, '/approve', { username: 'mallory' });
    // Updates are handled in order: once this is answered, the stranger's have been handled too.
    standIn.sendText(APPROVER_CHAT, '/whoami');
    await replies(APPROVER_CHAT, 'acts as <b>approver</b>');
    expect(standIn.calls.filter((call) => String(call.params.chat_id) === String(STRANGER_CHAT))).toEqual([]);
    expect(standIn.callsOf('answerCallbackQuery', (params) => params.callback_query_id === pressed)).toEqual([]);
    expect(await statusOf(id)).toBe('PENDING');
    // Audited once a minute per chat, not once per update: a chat that floods the bot cannot flood the chain.
    const refused = (await auditOf('telegram.refused')).filter((event) => event.data.chat_id === String(STRANGER_CHAT));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: `telegram:${STRANGER_CHAT}`, data: { reason: 'chat_not_allowed', update: 'message', command: '/pending', from_username: 'mallory' } });
  });

  it('asks for a TOTP code when a HIGH request is approved by button, then /approve ID CODE approves it', async () => {
    const id = await ask('apt-get install -y htop');
    const [announcement] = await announcements(id);
    expect(announcement?.params.text).toContain('needs a TOTP code');
    const pressed = standIn.press(APPROVER_CHAT, `approve:${id}`);
    const [answer] = await standIn.waitFor('answerCallbackQuery', (params) => params.callback_query_id === pressed);
    expect(answer?.params.text).toContain(`send /approve ${id} <your TOTP code>`);
    expect(answer?.params.show_alert).toBe(true);
    await replies(APPROVER_CHAT, `<code>/approve ${id} </code>`);
    expect(await statusOf(id)).toBe('PENDING');

    standIn.sendText(APPROVER_CHAT, `/approve ${id} 000000`);
    await replies(APPROVER_CHAT, 'That TOTP code is not valid');
    expect(await statusOf(id)).toBe('PENDING');

    standIn.sendText(APPROVER_CHAT, `/approve ${id} ${gate.person.code()}`);
    await replies(APPROVER_CHAT, `Approved request <code>${id}</code>`);
    expect(await statusOf(id)).toBe('APPROVED');
    const decided = (await auditOf('approval.decided')).find((event) => event.subject_id === id);
    // A TOTP code (or, once this test run has used the fresh ones, one of the person's recovery codes).
    expect(decided).toMatchObject({ actor: 'user:approver', data: { step_up: expect.stringMatching(/^(totp|recovery_code)$/), chat_id: String(APPROVER_CHAT), via: 'telegram' } });
    await edits(id, '<b>Approved</b> by approver');
  });

  it('waits for a second person on a CRITICAL request: two people in two chats, each with a code', async () => {
    const id = await ask('shutdown -h now');
    const [announcement] = await announcements(id);
    expect(announcement?.params.text).toContain('needs 2 approvers, each with a TOTP code');
    standIn.sendText(APPROVER_CHAT, `/approve ${id} ${gate.person.code()}`);
    await replies(APPROVER_CHAT, '1 of 2 approvals');
    expect(await statusOf(id)).toBe('PENDING');
    // The same person again does not count twice.
    standIn.sendText(APPROVER_CHAT, `/approve ${id} ${gate.person.code()}`);
    await replies(APPROVER_CHAT, 'You have already approved this request');

    standIn.sendText(ALICE_CHAT, `/approve ${id} ${alice.code()}`);
    await replies(ALICE_CHAT, `Approved request <code>${id}</code> (2 of 2 approvals: approver, alice)`);
    expect(await statusOf(id)).toBe('APPROVED');
    await edits(id, '<b>Approved</b> by approver, alice');
  });

  it('answers /pending, /status and /whoami', async () => {
    const id = await ask('kill -0 1');
    await announcements(id);
    standIn.sendText(ALICE_CHAT, '/pending');
    await replies(ALICE_CHAT, `/status <code>${id}</code>`);
    standIn.sendText(ALICE_CHAT, `/status ${id}`);
    const [status] = await replies(ALICE_CHAT, `<b>ID</b> <code>${id}</code>`);
    expect(status?.params.text).toContain('<pre>kill -0 1</pre>');
    expect(status?.params.text).toContain('Waiting for a decision');
    standIn.sendText(ALICE_CHAT, '/whoami');
    const [whoami] = await replies(ALICE_CHAT, `This chat (<code>${ALICE_CHAT}</code>) acts as <b>alice</b> (approver)`);
    expect(whoami?.params.text).toContain('may decide them: yes');
    expect(whoami?.params.text).toContain('TOTP: enrolled');
    standIn.sendText(ERIN_CHAT, '/whoami');
    expect((await replies(ERIN_CHAT, 'acts as <b>erin</b> (auditor)'))[0]?.params.text).toContain('may decide them: no');
    standIn.sendText(ERIN_CHAT, `/approve ${id}`);
    await replies(ERIN_CHAT, 'may not do that: it needs approvals:decide');
    expect(await statusOf(id)).toBe('PENDING');
  });

  it('never lets the requester approve their own request from Telegram, and never asks them', async () => {
    const id = await ask('kill -0 1', dana.key);
    const calls = await announcements(id, [APPROVER_CHAT, ALICE_CHAT]);
    expect(calls.map((call) => String(call.params.chat_id))).not.toContain(String(DANA_CHAT));
    standIn.sendText(DANA_CHAT, `/approve ${id} ${dana.code()}`);
    await replies(DANA_CHAT, 'You asked for this request: someone else must decide it');
    expect(await statusOf(id)).toBe('PENDING');
    const refused = (await auditOf('approval.decision_refused')).find((event) => event.subject_id === id);
    expect(refused).toMatchObject({ actor: 'user:dana', data: { reason: 'self_approval', via: 'telegram', chat_id: String(DANA_CHAT) } });
    // Her request's outcome is shown where it was announced, and nowhere else.
    expect((await gate.decide(id, 'approve')).status).toBe(200);
    await edits(id, '<b>Approved</b> by approver', [APPROVER_CHAT, ALICE_CHAT]);
    expect(standIn.callsOf('editMessageText', (params) => params.text.includes(id) && String(params.chat_id) === String(DANA_CHAT))).toEqual([]);
  });

  it('retries an announcement Telegram could not take, and gives up at once on a message that is gone', async () => {
    standIn.failNext('sendMessage', 502, 'Bad Gateway');
    const id = await ask('kill -0 1');
    await announcements(id);
    const db = gate.server.runtime.store.db;
    const retried = await poll('a delivery that took two attempts', () =>
      db.selectFrom('deliveries').selectAll().where('channel', '=', 'telegram').where('status', '=', 'delivered').where('attempts', '>', 1).executeTakeFirst(),
    );
    const attempts = await db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', retried.id).orderBy('attempt').execute();
    expect(attempts.map((attempt) => [attempt.outcome, attempt.status_code])).toEqual([
      ['failed', 502],
      ['delivered', 200],
    ]);

    const message = await db.selectFrom('telegram_messages').selectAll().where('approval_id', '=', id).where('chat_id', '=', String(ALICE_CHAT)).executeTakeFirstOrThrow();
    standIn.forget(ALICE_CHAT, message.message_id);
    expect((await gate.decide(id, 'reject', gate.approver, 'gone')).status).toBe(200);
    await edits(id, '<b>Rejected</b> by approver: gone', [APPROVER_CHAT, DANA_CHAT]);
    const dead = await poll('the dead edit', async () => {
      const rows = await db.selectFrom('deliveries').selectAll().where('channel', '=', 'telegram').where('destination', '=', String(ALICE_CHAT)).where('status', '=', 'dead').execute();
      return rows.find((row) => row.last_error?.includes(id));
    });
    expect(dead.attempts).toBe(1);
    expect(dead.last_error).toContain('message to edit not found');
  });

  it('reports the bot in /health', async () => {
    const health = await http('GET', `${gate.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body.checks.telegram).toMatchObject({ status: 'healthy', mode: 'polling', bot: 'airlock_test_bot', chats: 4, last_error: null });
  });
});

describe.each(storeKinds())('Telegram webhook mode (%s)', (kind) => {
  const secret = 'w3bh00k-secret-for-the-stand-in-tests_0123456789';
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;

  beforeAll(async () => {
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate(kind, {
      telegram: { botToken: TOKEN, apiRoot: standIn.apiRoot, chats: { [APPROVER_CHAT]: 'approver' }, mode: 'webhook', webhookSecret: secret, webhookUrl: 'https://airlock.example.com/v1/telegram/webhook' },
      events: { retryBaseMs: 50 },
    });
  });

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
  });

  const post = (update: Record<string, any>, headers: Record<string, string>) => http('POST', `${gate.url}/v1/telegram/webhook`, { headers, json: update });

  it('registers the webhook with its secret and never polls', async () => {
    const [registered] = await standIn.waitFor('setWebhook');
    expect(registered?.params).toMatchObject({ url: 'https://airlock.example.com/v1/telegram/webhook', secret_token: secret });
    expect(standIn.callsOf('getUpdates')).toEqual([]);
  });

  it('refuses updates without the secret token (audited), and handles those with it', async () => {
    await standIn.waitFor('setWebhook');
    const update = () => standIn.update({ message: { message_id: 1, date: 0, chat: { id: APPROVER_CHAT, type: 'private' }, from: { id: APPROVER_CHAT, is_bot: false, first_name: 'A' }, text: '/whoami', entities: [{ type: 'bot_command', offset: 0, length: 7 }] } });
    expect((await post(update(), {})).status).toBe(401);
    expect((await post(update(), { 'x-telegram-bot-api-secret-token': `${secret}x` })).status).toBe(401);
    const failures = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('action', '=', 'auth.failed').execute();
    expect(failures.filter((row) => JSON.parse(row.data).reason === 'telegram_webhook_secret')).toHaveLength(2);
    expect(standIn.callsOf('sendMessage')).toEqual([]);

    const accepted = await post(update(), { 'x-telegram-bot-api-secret-token': secret });
    expect(accepted.status, accepted.text).toBe(200);
    await standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(APPROVER_CHAT) && params.text.includes('acts as <b>approver</b>'));
  });

  it('announces requests and takes button presses through the webhook', async () => {
    const created = await gate.request({ command: 'kill -0 1', deployment_env: 'dev' });
    const id = created.body.request.request_id as string;
    await standIn.waitFor('sendMessage', (params) => buttonOf(params) === `approve:${id}`);
    const press = standIn.update({ callback_query: { id: 'cb-1', from: { id: APPROVER_CHAT, is_bot: false, first_name: 'A' }, chat_instance: 'x', data: `approve:${id}`, message: { message_id: 1, date: 0, chat: { id: APPROVER_CHAT, type: 'private' }, text: 'a request' } } });
    expect((await post(press, { 'x-telegram-bot-api-secret-token': secret })).status).toBe(200);
    await standIn.waitFor('answerCallbackQuery', (params) => params.callback_query_id === 'cb-1');
    expect((await http('GET', `${gate.url}/approvals/${id}`, { headers: bearer(gate.agent) })).body.request.status).toBe('APPROVED');
    await standIn.waitFor('editMessageText', (params) => params.text.includes(id) && params.text.includes('<b>Approved</b> by approver'));
  });
});
