import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { TelegramStandIn } from '../helpers/telegram.js';
import { tmpDir } from '../helpers/tmp.js';

const CHAT = 5001;

/**
 * Two bot instances on one machine, as the systemd template runs them: each `airlock serve
 * --config <dir>/<id>.yaml --instance-id <id>` with its own bot token, mode, state folder and health
 * port, side by side, each answering only through its own bot.
 */
describe('two bot instances side by side', () => {
  const instances = [
    { id: 'ops-a', token: '323456789:stand-in-token-for-instance_ops-a', chatops: 'system' },
    { id: 'bot-b', token: '423456789:stand-in-token-for-instance_bot-b', chatops: 'session' },
  ] as const;
  const standIns = new Map<string, TelegramStandIn>();
  const servers = new Map<string, ServerProcess>();
  let dir: string;

  beforeAll(async () => {
    dir = tmpDir('airlock-instances-');
    for (const instance of instances) {
      const standIn = await TelegramStandIn.start(instance.token);
      standIns.set(instance.id, standIn);
      const config = join(dir, `${instance.id}.yaml`);
      writeFileSync(
        config,
        [
          `dataDir: ${join(dir, 'data')}`,
          'server: { port: 0 }',
          'telegram:',
          `  botToken: "${instance.token}"`,
          `  apiRoot: ${standIn.apiRoot}`,
          `  chats: { "${CHAT}": dana }`,
          `  chatops: ${instance.chatops}`,
          '  systemAdmins: [dana]',
          '  system: { environment: dev }',
          '',
        ].join('\n'),
      );
      const added = await runCli(['users', 'add', 'dana', '--role', 'admin', '--config', config, '--instance-id', instance.id, '--json'], { cwd: dir });
      expect(added.code, added.stderr).toBe(0);
      servers.set(instance.id, await spawnServer(process.execPath, [CLI, 'serve', '--config', config, '--instance-id', instance.id], { cwd: dir, env: cleanEnv() }));
    }
  });

  afterAll(async () => {
    for (const server of servers.values()) server.signal('SIGTERM');
    await Promise.all([...servers.values()].map((server) => server.exited));
    for (const standIn of standIns.values()) await standIn.close();
  });

  const reply = (id: string, text: string) => (standIns.get(id) as TelegramStandIn).waitFor('sendMessage', (params) => String(params.text).includes(text));

  it('each polls its own bot, with its own mode and health port', async () => {
    const ports = new Set<string>();
    for (const instance of instances) {
      const server = servers.get(instance.id) as ServerProcess;
      ports.add(new URL(server.url).port);
      let telegram: Record<string, unknown> = {};
      for (let tries = 0; tries < 200 && telegram.status !== 'healthy'; tries += 1) {
        telegram = ((await (await fetch(`${server.url}/health`)).json()) as { checks: { telegram: Record<string, unknown> } }).checks.telegram;
        if (telegram.status !== 'healthy') await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(telegram).toMatchObject({ status: 'healthy', chatops: instance.chatops, conflict: false, last_error: null });
    }
    expect(ports.size).toBe(2);
  });

  it('answers each chat through its own bot only', async () => {
    for (const instance of instances) (standIns.get(instance.id) as TelegramStandIn).say(CHAT, 'sys info');
    await reply('ops-a', '✅ system.info');
    await reply('bot-b', 'runs in <b>session</b> mode');
    expect(standIns.get('ops-a')?.callsOf('sendMessage', (params) => String(params.text).includes('session'))).toEqual([]);
    expect(standIns.get('bot-b')?.callsOf('sendMessage', (params) => String(params.text).includes('system.info'))).toEqual([]);
  });

  it('keeps separate state: each instance its own folder, database and audit chain', async () => {
    for (const instance of instances) expect(existsSync(join(dir, 'data', 'instances', instance.id, 'airlock.db'))).toBe(true);
    const audit = async (id: string) => {
      const result = await runCli(['audit', 'export', '--config', join(dir, `${id}.yaml`), '--instance-id', id], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      return result.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { action: string }).action);
    };
    const [a, b] = [await audit('ops-a'), await audit('bot-b')];
    expect(a).toContain('chatops.result');
    expect(a).not.toContain('telegram.chatops_refused');
    expect(b).toContain('telegram.chatops_refused');
    expect(b).not.toContain('chatops.result');
  });
});
