import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKeys, verifyChain } from '../../src/audit/index.js';
import { telegramPrincipal } from '../../src/notify/index.js';
import { startGate } from '../helpers/gate.js';
import { createPerson, type Person } from '../helpers/identity.js';
import { BOT, TelegramStandIn } from '../helpers/telegram.js';
import { tmpDir } from '../helpers/tmp.js';

const TOKEN = '223456789:stand-in-token-for-the-system_bot';
const DANA = 3001;
const ERIN = 3002;
const OLGA = 3003;
const STRANGER = 3999;
const GROUP = -100777;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe.each(['sqlite', 'postgres'] as const)('Telegram bot in system mode (%s)', (kind) => {
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let dir: string;
  let erin: Person;
  let dana: Person;

  beforeAll(async () => {
    dir = realpathSync(tmpDir('airlock-chatops-'));
    writeFileSync(join(dir, 'shadow'), 'root:$6$not-a-real-hash:19000:0:99999:7:::\n', { mode: 0o600 });
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, `sensitivePaths:\n  - ${join(dir, 'shadow')}\n`);
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate(kind, {
      policy: { file: policy },
      telegram: {
        botToken: TOKEN,
        apiRoot: standIn.apiRoot,
        chats: { [DANA]: 'dana', [ERIN]: 'erin', [OLGA]: 'olga', [GROUP]: 'dana' },
        chatops: 'system',
        systemAdmins: ['dana', 'erin'],
        system: { environment: 'dev' },
      },
    });
    dana = await createPerson(gate.server.runtime, 'dana', 'admin');
    erin = await createPerson(gate.server.runtime, 'erin', 'admin');
    await createPerson(gate.server.runtime, 'olga', 'approver');
  });

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
  });

  /** The bot's messages to a chat that contain `text`; waits for `count` of them. */
  async function reply(chat: number, text: string, count = 1): Promise<string> {
    const found = await standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(chat) && String(params.text).includes(text), { count });
    return String(found[count - 1]?.params.text);
  }

  async function auditOf(action: string) {
    const rows = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute();
    return rows.map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, any> }));
  }

  const resultsFor = async (messageId: number) => (await auditOf('chatops.result')).filter((event) => event.data.message_id === messageId);
  const idIn = (text: string, pattern: string): string => new RegExp(pattern.replace('ID', `(${UUID})`)).exec(text)?.[1] as string;

  it('refuses everyone who is not a system admin, plain text included, and audits it', async () => {
    const message = standIn.say(OLGA, 'hello');
    expect(await reply(OLGA, 'runs in <b>system</b> mode')).toContain('<b>olga</b> is not one');
    const command = standIn.say(OLGA, 'sys info');
    await reply(OLGA, 'runs in <b>system</b> mode', 2);
    const refused = (await auditOf('telegram.chatops_refused')).filter((event) => event.data.chat_id === String(OLGA));
    expect(refused.map((event) => [event.data.reason, event.data.message_id, event.data.command])).toEqual([
      ['not_system_admin', message, 'hello'],
      ['not_system_admin', command, 'sys info'],
    ]);
    expect(await auditOf('chatops.command')).toEqual([]);
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toEqual([]);
  });

  it('shows role, mode and system admin in /whoami', async () => {
    standIn.say(DANA, '/whoami');
    const text = await reply(DANA, 'Bot mode: system');
    expect(text).toContain('<b>dana</b> (admin)');
    expect(text).toContain('System admin: yes');
  });

  it('runs a LOW read at once through the gate and answers with the result', async () => {
    const message = standIn.say(DANA, 'sys info');
    const text = await reply(DANA, '✅ system.info');
    expect(text).toMatch(/load [\d.]+ [\d.]+ [\d.]+/);
    const [result] = await resultsFor(message);
    expect(result?.data).toMatchObject({ status: 'executed', chat_id: String(DANA), command: 'sys info', delivered: 'message' });
    const execution = await gate.server.runtime.store.db.selectFrom('executions').selectAll().where('id', '=', result?.data.execution_id).executeTakeFirstOrThrow();
    expect(execution.status).toBe('succeeded');
    const request = await gate.server.runtime.store.db.selectFrom('approvals').selectAll().where('id', '=', result?.data.request_id).executeTakeFirstOrThrow();
    expect([request.status, request.risk_level, request.decided_by]).toEqual(['EXECUTED', 'LOW', 'policy']);
  });

  it('answers a bad command with its usage, and runs nothing', async () => {
    const before = (await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).length;
    const message = standIn.say(DANA, 'sys config write relative/path bm90IGJhc2U2NA');
    expect(await reply(DANA, 'must be an absolute path')).toContain('sys config rollback PATH BACKUP');
    expect((await resultsFor(message))[0]?.data).toMatchObject({ status: 'invalid', code: 'invalid_command' });
    standIn.say(DANA, 'sys docker ps');
    await reply(DANA, 'target_required');
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toHaveLength(before);
  });

  it('reads a sensitive file only with an approved challenge, consumed once; a wrong code fails, is audited and deleted', async () => {
    const shadow = join(dir, 'shadow');
    const first = standIn.say(DANA, `sys read ${shadow}`);
    await reply(DANA, 'is sensitive: it needs an approved TOTP challenge');
    expect((await resultsFor(first))[0]?.data).toMatchObject({ status: 'refused', code: 'challenge_required' });

    standIn.say(DANA, 'sysauth plan read-shadow');
    const id = idIn(await reply(DANA, 'planned for “read-shadow”'), 'Challenge <code>ID</code>');
    expect(id).toBeDefined();

    const wrong = standIn.say(DANA, `sysauth approve ${id} 000000`);
    await reply(DANA, 'That TOTP code is not valid');
    expect(standIn.deleted.has(`${DANA}:${wrong}`)).toBe(true);
    expect((await resultsFor(wrong))[0]?.data).toMatchObject({ status: 'refused', code: 'totp_invalid', code_message_deleted: true, command: `sysauth approve ${id} ******` });
    expect((await auditOf('totp.failed')).map((event) => event.data.purpose)).toContain(`challenge:${id}`);

    const code = dana.code();
    const right = standIn.say(DANA, `sysauth approve ${id} ${code}`);
    await reply(DANA, `Challenge <code>${id}</code> approved`);
    expect(standIn.deleted.has(`${DANA}:${right}`)).toBe(true);
    // The code is never echoed, nor kept in the audit log.
    expect(standIn.callsOf('sendMessage').some((call) => String(call.params.text).includes(code))).toBe(false);
    expect((await gate.server.runtime.store.db.selectFrom('audit_events').select('data').execute()).some((row) => row.data.includes(code))).toBe(false);

    const read = standIn.say(DANA, `sys read ${shadow} --challenge ${id}`);
    await reply(DANA, `📄 <code>${shadow}</code>`);
    await standIn.waitFor('sendDocument', (params) => String(params.chat_id) === String(DANA));
    const document = standIn.documents.find((sent) => sent.replyTo === read);
    expect(document?.filename).toBe('shadow');
    expect(document?.content.equals(readFileSync(shadow))).toBe(true);

    const again = standIn.say(DANA, `sys read ${shadow} --challenge ${id}`);
    await reply(DANA, 'A challenge works once');
    expect((await resultsFor(again))[0]?.data).toMatchObject({ status: 'refused', code: 'challenge_invalid' });
    expect(standIn.documents.filter((sent) => sent.filename === 'shadow')).toHaveLength(1);

    standIn.say(DANA, `sysauth status ${id}`);
    expect(await reply(DANA, `Challenge <code>${id}</code> (“read-shadow”)`)).toContain('<b>CONSUMED</b>');
  });

  it('writes a config file once another system admin approves, and rolls it back byte for byte', async () => {
    const file = join(dir, 'myapp.conf');
    const original = Buffer.from([0x6b, 0x65, 0x79, 0x3d, 0x31, 0x0a, 0x00, 0xff, 0x74, 0x61, 0x69, 0x6c]);
    writeFileSync(file, original, { mode: 0o640 });
    const written = Buffer.from('key=2\nnew=yes\n');

    const write = standIn.say(DANA, `sys config write ${file} ${written.toString('base64')}`);
    const pending = await reply(DANA, 'waits for approval: risk <b>HIGH</b>');
    const writeId = idIn(pending, 'Request <code>ID</code>');
    // The content is not echoed: the command is audited with its size.
    expect((await auditOf('chatops.command')).find((event) => event.data.message_id === write)?.data.command).toBe(`sys config write ${file} <${written.length} bytes>`);
    // The other system admin is asked, with buttons; olga (no system admin) is not.
    const asked = await standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(ERIN) && String(params.text).includes(writeId));
    expect(JSON.stringify(asked[0]?.params.reply_markup)).toContain(`approve:${writeId}`);
    expect(standIn.callsOf('sendMessage', (params) => String(params.chat_id) === String(OLGA) && String(params.text).includes(writeId))).toEqual([]);
    expect(readFileSync(file).equals(original)).toBe(true);

    // dana may not approve her own request.
    standIn.say(DANA, `/approve ${writeId} ${dana.code()}`);
    await reply(DANA, 'someone else must decide it');
    expect(readFileSync(file).equals(original)).toBe(true);

    const approval = standIn.say(ERIN, `/approve ${writeId} ${erin.code()}`);
    await reply(ERIN, `Approved request <code>${writeId}</code>`);
    expect(standIn.deleted.has(`${ERIN}:${approval}`)).toBe(true);
    const wrote = await reply(DANA, `✅ Wrote <code>${file}</code>`);
    expect(readFileSync(file).equals(written)).toBe(true);
    const backup = /kept in <code>([^<]+)<\/code>/.exec(wrote)?.[1] as string;
    expect(readFileSync(backup).equals(original)).toBe(true);
    expect(wrote).toContain(`sys config rollback ${file} ${backup}`);

    const rollback = standIn.say(DANA, `sys config rollback ${file} ${backup}`);
    const rollbackId = idIn(await reply(DANA, 'waits for approval: risk <b>HIGH</b>', 2), 'Request <code>ID</code>');
    expect(rollbackId).not.toBe(writeId);
    standIn.say(ERIN, `/approve ${rollbackId} ${erin.code()}`);
    await reply(DANA, `✅ Restored <code>${file}</code>`);
    expect(readFileSync(file).equals(original)).toBe(true);

    // Every step is in the audit chain, with the chat and message ids, and the chain verifies.
    for (const [message, id] of [[write, writeId], [rollback, rollbackId]] as const) {
      const results = await resultsFor(message);
      expect(results.map((event) => [event.data.status, event.data.request_id])).toEqual([
        ['pending', id],
        ['executed', id],
      ]);
      const steps = await gate.server.runtime.store.db.selectFrom('audit_events').select('action').where('subject_id', '=', id).orderBy('seq').execute();
      expect(steps.map((step) => step.action)).toEqual(expect.arrayContaining(['approval.requested', 'approval.decided', 'token.minted']));
    }
    const report = await verifyChain(gate.server.runtime.store, loadPublicKeys([gate.server.runtime.config.paths.auditPublicKeyFile]));
    expect(report.ok).toBe(true);
  });

  it('says so when it may not delete the message with a code', async () => {
    standIn.mayDelete = false;
    try {
      const message = standIn.say(DANA, 'sysauth approve 00000000-0000-0000-0000-000000000000 123456');
      expect(await reply(DANA, 'Delete the message with your code yourself')).toContain('no challenge');
      expect((await resultsFor(message))[0]?.data).toMatchObject({ status: 'refused', code: 'challenge_not_found', code_message_deleted: false });
    } finally {
      standIn.mayDelete = true;
    }
  });

  it('runs an approved request of yours with sys run ID (once), never someone else\'s, never an edited command', async () => {
    const runtime = gate.server.runtime;
    const asUser = async (username: string) => telegramPrincipal(await runtime.store.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirstOrThrow(), String(DANA));
    const ask = async (username: string) => (await runtime.approvals.request(await asUser(username), { worker_id: 'test', task_name: 'info', instruction: '', deployment_env: 'dev', target: 'local', op: { name: 'system.info', args: {} } })).request_id;
    const mine = await ask('dana');
    const theirs = await ask('erin');
    standIn.say(DANA, `sys run ${theirs}`);
    await reply(DANA, `request ${theirs} is not yours`);
    standIn.say(DANA, `sys run ${mine}`);
    await reply(DANA, '✅ system.info', 2);
    standIn.say(DANA, `sys run ${mine}`);
    await reply(DANA, 'is EXECUTED, not APPROVED');
    expect((await runtime.approvals.get(theirs)).status).toBe('APPROVED');

    const before = (await auditOf('chatops.command')).length;
    standIn.inject({
      edited_message: { message_id: 9_999, date: 1, edit_date: 2, chat: { id: DANA, type: 'private', first_name: 'Tester' }, from: { id: DANA, is_bot: false, first_name: 'Tester' }, text: 'sys info' },
    });
    standIn.say(DANA, '/whoami');
    await reply(DANA, 'Bot mode: system', 2);
    expect(await auditOf('chatops.command')).toHaveLength(before);
    expect((await auditOf('telegram.refused')).map((event) => [event.data.chat_id, event.data.reason, event.data.update])).toContainEqual([String(DANA), 'update_ignored', 'edited_message']);
  });

  it('ignores a chat that is not on the allowlist, and audits it', async () => {
    standIn.say(STRANGER, 'sys info');
    standIn.say(DANA, '/whoami');
    await reply(DANA, 'Bot mode: system', 3);
    expect(standIn.callsOf('sendMessage', (params) => String(params.chat_id) === String(STRANGER))).toEqual([]);
    expect((await auditOf('telegram.refused')).map((event) => [event.data.chat_id, event.data.reason])).toContainEqual([String(STRANGER), 'chat_not_allowed']);
  });

  it('reads in a group only what is addressed to the bot, as the sender', async () => {
    const results = async () => (await auditOf('chatops.result')).length;
    const before = await results();
    standIn.say(GROUP, 'sys info', { group: true, from: DANA });
    standIn.say(GROUP, `@${BOT.username} sys info`, { group: true, from: DANA });
    await reply(GROUP, '✅ system.info');
    expect(await results()).toBe(before + 1);
    expect((await auditOf('telegram.refused')).map((event) => [event.data.chat_id, event.data.reason])).toContainEqual([String(GROUP), 'not_addressed']);
    // A reply to the bot counts; the sender acts as themselves: olga is no system admin, a stranger is not allowlisted.
    standIn.say(GROUP, 'sys info', { group: true, from: OLGA, replyTo: 1 });
    standIn.say(GROUP, `@${BOT.username} sys info`, { group: true, from: STRANGER });
    await reply(GROUP, '<b>olga</b> is not one');
    standIn.say(GROUP, `/sys@${BOT.username} info`, { group: true, from: DANA });
    await reply(GROUP, '✅ system.info', 2);
    expect((await auditOf('telegram.refused')).map((event) => [event.data.chat_id, event.data.reason])).toContainEqual([String(GROUP), 'sender_not_allowed']);
  });
});

describe('Telegram bot in system mode, limits', () => {
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;
  const ADMIN = 4001;

  beforeAll(async () => {
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate('sqlite', {
      telegram: { botToken: TOKEN, apiRoot: standIn.apiRoot, chats: { [ADMIN]: 'dana' }, chatops: 'system', systemAdmins: ['dana'], commandsPerMinute: 2 },
    });
    await createPerson(gate.server.runtime, 'dana', 'admin');
  });

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
  });

  it('asks for the environment when the target serves several and the bot names none', async () => {
    // The built-in local target serves dev, test, stg and prd.
    standIn.say(ADMIN, 'sys info');
    await standIn.waitFor('sendMessage', (params) => String(params.text).includes('say which environment: --env E (local serves dev, test, stg, prd)'));
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toEqual([]);
  });

  it('holds each person to their commands a minute, and audits the refusal once', async () => {
    standIn.say(ADMIN, 'sysauth status 00000000-0000-0000-0000-000000000000');
    await standIn.waitFor('sendMessage', (params) => String(params.text).includes('no challenge'));
    standIn.say(ADMIN, 'sys info --env dev');
    standIn.say(ADMIN, 'sys info --env dev');
    await standIn.waitFor('sendMessage', (params) => String(params.text).includes('Slow down: at most 2 commands a minute'), { count: 2 });
    const rows = await gate.server.runtime.store.db.selectFrom('audit_events').select('data').where('action', '=', 'telegram.chatops_refused').execute();
    expect(rows.map((row) => JSON.parse(row.data).reason)).toEqual(['rate_limited']);
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toEqual([]);
  });

  it('reports a 409 Conflict (another process polling this bot) in /health, without trying again at once', async () => {
    standIn.failNext('getUpdates', 409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    // The long poll in flight answers with this update; the next one meets the conflict.
    standIn.say(ADMIN, '/whoami');
    let telegram: Record<string, any> = {};
    for (let tries = 0; tries < 200 && telegram.conflict !== true; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      telegram = ((await (await fetch(`${gate.url}/health`)).json()) as { checks: { telegram: Record<string, any> } }).checks.telegram;
    }
    expect(telegram).toMatchObject({ status: 'degraded', conflict: true, chatops: 'system' });
    expect(telegram.last_error).toContain('409 Conflict: another process is taking this bot');
    const failed = standIn.calls.findIndex((call) => call.method === 'getUpdates' && call.result === undefined);
    expect(standIn.calls.slice(failed + 1).filter((call) => call.method === 'getUpdates')).toEqual([]);
  });
});
