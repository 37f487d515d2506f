import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerEngine, type ContainerEngine } from '../helpers/container-engine.js';
import { startGate } from '../helpers/gate.js';
import { createPerson } from '../helpers/identity.js';
import { TelegramStandIn } from '../helpers/telegram.js';
import { tmpDir } from '../helpers/tmp.js';

const TOKEN = '523456789:stand-in-token-for-the-docker_bot';
const DANA = 6001;
const ERIN = 6002;

/** The runbook's container steps from the chat, against a real container engine (Podman's Docker API). */
describe('sys docker … from a system bot', () => {
  let engine: ContainerEngine;
  let box: { id: string; name: string };
  let standIn: TelegramStandIn;
  let gate: Awaited<ReturnType<typeof startGate>>;

  beforeAll(async () => {
    engine = await startContainerEngine();
    box = await engine.container(['/bin/busybox', 'sh', '-c', 'echo started; exec sleep 3600'], { namePrefix: 'chatops' });
    const targets = join(tmpDir(), 'targets.yaml');
    writeFileSync(targets, `targets:\n  engine:\n    executor: docker\n    connection: { socket_path: "${engine.socketPath}" }\n    environments: [dev]\n    capabilities: [container:read, container:control]\n`);
    standIn = await TelegramStandIn.start(TOKEN);
    gate = await startGate('sqlite', {
      targets: { file: targets },
      telegram: { botToken: TOKEN, apiRoot: standIn.apiRoot, chats: { [DANA]: 'dana', [ERIN]: 'erin' }, chatops: 'system', systemAdmins: ['dana', 'erin'], system: { containerTarget: 'engine' } },
    });
    await createPerson(gate.server.runtime, 'dana', 'admin');
    await createPerson(gate.server.runtime, 'erin', 'admin');
  }, 120_000);

  afterAll(async () => {
    await gate?.server.close();
    await standIn?.close();
    await engine?.stop();
  }, 120_000);

  const reply = async (chat: number, text: string) =>
    String((await standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(chat) && String(params.text).includes(text)))[0]?.params.text);

  it('lists containers and reads logs at once, and restarts one after another admin presses Approve', async () => {
    standIn.say(DANA, 'sys docker ps -a');
    expect(await reply(DANA, '✅ container.list')).toContain(box.name);
    standIn.say(DANA, `sys docker logs ${box.name} 10`);
    expect(await reply(DANA, '✅ container.logs')).toContain('started');

    standIn.say(DANA, `sys docker restart ${box.name}`);
    const pending = await reply(DANA, 'waits for approval: risk <b>MEDIUM</b>');
    const id = /Request <code>([0-9a-f-]{36})<\/code>/.exec(pending)?.[1] as string;
    const card = await standIn.waitFor('sendMessage', (params) => String(params.chat_id) === String(ERIN) && String(params.text).includes(id));
    standIn.press(ERIN, `approve:${id}`, card[0]?.result.message_id);
    expect(await reply(DANA, '✅ container.restart')).toContain(`${box.name} (`);
    // The card the other admin pressed shows the outcome, without buttons.
    const edited = await standIn.waitFor('editMessageText', (params) => String(params.chat_id) === String(ERIN) && String(params.text).includes(id));
    expect(JSON.stringify(edited[0]?.params.reply_markup)).toBe('{"inline_keyboard":[]}');
    const request = await gate.server.runtime.store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect([request.status, request.risk_level]).toEqual(['EXECUTED', 'MEDIUM']);
  });
});
