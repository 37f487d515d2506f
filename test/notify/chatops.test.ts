import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGate } from '../helpers/gate.js';
import { createPerson } from '../helpers/identity.js';
import { TelegramStandIn } from '../helpers/telegram.js';

const TOKEN = '123456789:stand-in-token-for-the-chatops_tests';
const ADMIN_CHAT = 2001;

describe('Telegram bot in session mode', () => {
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;

  beforeAll(async () => {
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate('sqlite', {
      telegram: { botToken: TOKEN, apiRoot: standIn.apiRoot, chats: { [ADMIN_CHAT]: 'dana' }, chatops: 'session' },
    });
    await createPerson(gate.server.runtime, 'dana', 'admin');
  });

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
  });

  function replies(chat: number, text: string, count = 1) {
    return standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(chat) && params.text.includes(text), { count });
  }

  async function auditOf(action: string) {
    const rows = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute();
    return rows.map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, any> }));
  }

  it('refuses `sys journal 10` and `/sys info`, even for an admin, and audits each with the chat and message ids', async () => {
    standIn.sendText(ADMIN_CHAT, 'sys journal 10');
    await replies(ADMIN_CHAT, 'runs in <b>session</b> mode');
    standIn.sendText(ADMIN_CHAT, '/sys info');
    await replies(ADMIN_CHAT, 'runs in <b>session</b> mode', 2);
    const audited = await auditOf('telegram.chatops_refused');
    expect(audited.map((event) => [event.data.chat_id, event.data.reason, event.data.command])).toEqual([
      [String(ADMIN_CHAT), 'session_mode', 'sys journal'],
      [String(ADMIN_CHAT), 'session_mode', '/sys info'],
    ]);
    const [one, two] = audited.map((event) => event.data.message_id);
    expect(typeof one).toBe('number');
    expect(two).toBeGreaterThan(one);
    expect(audited[0]?.actor).toContain('dana');
  });

  it('shows the role and the bot mode in /whoami', async () => {
    standIn.sendText(ADMIN_CHAT, '/whoami');
    const [whoami] = await replies(ADMIN_CHAT, 'Bot mode: session');
    expect(whoami?.params.text).toContain('<b>dana</b> (admin)');
  });

  it('never runs an edited message, and audits it', async () => {
    const before = standIn.callsOf('sendMessage', (params) => String(params.chat_id) === String(ADMIN_CHAT) && params.text.includes('acts as')).length;
    standIn.inject({
      edited_message: {
        message_id: 77,
        date: Math.floor(Date.now() / 1000),
        edit_date: Math.floor(Date.now() / 1000),
        chat: { id: ADMIN_CHAT, type: 'private', first_name: 'Tester' },
        from: { id: ADMIN_CHAT, is_bot: false, first_name: 'Tester' },
        text: '/whoami',
        entities: [{ type: 'bot_command', offset: 0, length: 7 }],
      },
    });
    // Updates are handled in order: once the next message is answered, the edited one has been handled.
    standIn.sendText(ADMIN_CHAT, '/whoami');
    await replies(ADMIN_CHAT, 'acts as', before + 1);
    expect(standIn.callsOf('sendMessage', (params) => String(params.chat_id) === String(ADMIN_CHAT) && params.text.includes('acts as'))).toHaveLength(before + 1);
    const audited = await auditOf('telegram.refused');
    expect(audited.map((event) => [event.data.chat_id, event.data.reason, event.data.update])).toContainEqual([String(ADMIN_CHAT), 'update_ignored', 'edited_message']);
  });
});
