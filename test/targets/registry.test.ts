import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/approvals/index.js';
import { checkGate, loadTargetsFile, type Target } from '../../src/targets/index.js';
import { runCli } from '../helpers/cli.js';
import { bearer, http } from '../helpers/http.js';
import { spawnServer } from '../helpers/process.js';
import { CLI, cleanEnv } from '../helpers/cli.js';
import { startTestServer, testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;

function fileWith(text: string): string {
  const file = join(tmpDir(), 'targets.yaml');
  writeFileSync(file, text);
  return file;
}

/** The reference control plane's own example (003), with a pinned host key added, as Airlock reads it. */
function referenceFile(keyPath: string): string {
  return `version: "1.0"
targets:
  local:
    id: "local"
    type: "local"
    executor: "local"
    capabilities: ["exec", "system:read", "container:read", "network:read"]
    constraints: { timeout: 30, concurrency: 5 }
  web-server-01:
    id: "web-server-01"
    type: "remote"
    executor: "ssh"
    connection:
      host: "192.168.1.100"
      port: 22
      username: "admin"
      key_path: "\${SSH_KEY_WEB_SERVER_01}"
      host_key: "${FINGERPRINT}"
    environments: [stg, prd]
    capabilities: ["system:read", "container:read", "network:read"]
    constraints:
      timeout: 60
      sudo_policy: "limited"
      sudo_allow: ["systemctl restart nginx"]
  docker-host-01:
    id: "docker-host-01"
    type: "remote"
    executor: "docker"
    connection:
      socket_path: "/var/run/docker.sock"
    capabilities: ["container:read", "container:control", "stack:deploy"]
`.replace('${SSH_KEY_WEB_SERVER_01}', keyPath === 'env' ? '${SSH_KEY_WEB_SERVER_01}' : keyPath);
}

describe('targets.yaml', () => {
  it('reads the reference shape, with ${VARIABLE} secrets and every default resolved', () => {
    const key = join(tmpDir(), 'id_ed25519');
    writeFileSync(key, 'not really a key', { mode: 0o600 });
    const config = testConfig();
    const loaded = loadTargetsFile(fileWith(referenceFile('env')), config, { SSH_KEY_WEB_SERVER_01: key });
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
    const [local, web, docker] = loaded.targets as [Target, Target, Target];
    expect(local).toMatchObject({ id: 'local', executor: 'local', timeoutSeconds: 30, concurrency: 5, shellAllowed: false, sudoPolicy: 'none', environments: ['dev', 'test', 'stg', 'prd'] });
    expect(web).toMatchObject({ executor: 'ssh', environments: ['stg', 'prd'], sudoPolicy: 'limited', connection: { host: '192.168.1.100', key_path: key, host_key: FINGERPRINT } });
    expect(docker).toMatchObject({ executor: 'docker', timeoutSeconds: config.gateway.timeoutSeconds, connection: { socket_path: '/var/run/docker.sock' } });
  });

  it('lists every problem of an invalid file, each at its path', () => {
    const config = testConfig();
    const unreadable = join(tmpDir(), 'locked-key');
    writeFileSync(unreadable, 'x');
    chmodSync(unreadable, 0o000);
    const cases: Array<[string, string, RegExp]> = [
      ['unknown executor', 'targets:\n  a: { executor: telnet, capabilities: [exec] }\n', /^targets\.a\.executor: /],
      ['bad capability', 'targets:\n  a: { executor: local, capabilities: [root:everything] }\n', /^targets\.a\.capabilities\.0: /],
      ['missing connection', 'targets:\n  a: { executor: ssh, capabilities: [exec] }\n', /^targets\.a\.connection: /],
      ['duplicate ids', 'targets:\n  a: { executor: local, capabilities: [exec] }\n  a: { executor: local, capabilities: [exec] }\n', /^line 3: .*[Dd]uplicate|unique/],
      ['bad YAML', 'targets:\n  a: [unclosed\n', /^line \d+: /],
      ['id differing from its key', 'targets:\n  a: { id: b, executor: local, capabilities: [exec] }\n', /^targets\.a\.id: must equal its key/],
      ['inline private key', `targets:\n  a: { executor: ssh, capabilities: [exec], connection: { host: h, username: u, host_key: "${FINGERPRINT}", key_path: "-----BEGIN OPENSSH PRIVATE KEY-----" } }\n`, /^targets\.a\.connection\.key_path: must be a file path/],
      ['unset variable', `targets:\n  a: { executor: ssh, capabilities: [exec], connection: { host: h, username: u, host_key: "${FINGERPRINT}", key_path: "\${NOT_SET_ANYWHERE}" } }\n`, /^targets\.a\.connection\.key_path: the variable NOT_SET_ANYWHERE is not set/],
      ['unknown environment', 'targets:\n  a: { executor: local, environments: [moon], capabilities: [exec] }\n', /^targets\.a\.environments\.0: unknown environment "moon"/],
      ['sudo limited without a list', 'targets:\n  a: { executor: local, capabilities: [exec], constraints: { sudo_policy: limited } }\n', /^targets\.a\.constraints\.sudo_allow: /],
      ['docker with both socket and url', 'targets:\n  a: { executor: docker, capabilities: [exec], connection: { socket_path: /s, url: "tcp://h:2375" } }\n', /^targets\.a\.connection: give exactly one/],
    ];
    if (process.getuid?.() !== 0) cases.push(['unreadable key path', `targets:\n  a: { executor: ssh, capabilities: [exec], connection: { host: h, username: u, host_key: "${FINGERPRINT}", key_path: "${unreadable}" } }\n`, /^targets\.a\.connection\.key_path: cannot read .*EACCES/]);
    cases.push(['missing key file', `targets:\n  a: { executor: ssh, capabilities: [exec], connection: { host: h, username: u, host_key: "${FINGERPRINT}", key_path: /no/such/key } }\n`, /^targets\.a\.connection\.key_path: cannot read \/no\/such\/key \(ENOENT\)/]);
    for (const [name, text, expected] of cases) {
      let problems: string[] = [];
      try {
        loadTargetsFile(fileWith(text), config, {});
      } catch (error) {
        problems = (error as { details: { problems: string[] } }).details.problems;
      }
      expect(problems.some((problem) => expected.test(problem)), `${name}: ${JSON.stringify(problems)}`).toBe(true);
    }
    // Several problems at once are all listed.
    let all: string[] = [];
    try {
      loadTargetsFile(fileWith('targets:\n  a: { executor: telnet, capabilities: [exec] }\n  b: { executor: local, capabilities: [nope] }\n'), config, {});
    } catch (error) {
      all = (error as { details: { problems: string[] } }).details.problems;
    }
    expect(all.length).toBeGreaterThanOrEqual(2);

    // An API instance holds no executor credential: the same missing key file is no problem there.
    const ssh = fileWith(`targets:\n  a: { executor: ssh, capabilities: [exec], connection: { host: h, username: u, host_key: "${FINGERPRINT}", key_path: /no/such/key } }\n`);
    expect(loadTargetsFile(ssh, { ...config, role: 'api' }, {}).targets.map((target) => target.id)).toContain('a');
  });

  it('is checked by airlock config validate, which exits 2 listing the problems', async () => {
    const cwd = tmpDir();
    const file = fileWith('targets:\n  a: { executor: local, capabilities: [nope] }\n');
    const result = await runCli(['config', 'validate'], { cwd, env: { AIRLOCK_TARGETS_FILE: file } });
    expect(result.code).toBe(2);
    expect(result.stderr + result.stdout).toContain('targets.file: targets.a.capabilities.0');
  });
});

describe('the policy gate', () => {
  const target = (overrides: Partial<Target> = {}): Target => ({
    id: 'box',
    executor: 'local',
    environments: ['dev', 'stg'],
    capabilities: ['exec', 'system:read'],
    timeoutSeconds: 10,
    outputCapBytes: 1024,
    concurrency: 2,
    shellAllowed: false,
    sudoPolicy: 'limited',
    sudoAllow: ['systemctl restart nginx', 'journalctl'],
    mode: 'enforce',
    workDir: '/tmp',
    connection: {},
    ...overrides,
  });
  const ask = (command: string, extra: Partial<Parameters<typeof checkGate>[1]> = {}, overrides: Partial<Target> = {}) =>
    checkGate(target(overrides), { op: parseCommand(command).op, environment: 'dev', capability: 'exec', ...extra });

  it('allows what the target grants', () => {
    expect(ask('uptime')).toEqual({ allow: true, denials: [], shadow: false });
    expect(ask('sudo systemctl restart nginx').allow).toBe(true);
    expect(ask('sudo -n journalctl -u nginx').allow).toBe(true);
    expect(ask('sudo -n systemctl restart nginx', {}, { sudoPolicy: 'full', sudoAllow: [] }).allow).toBe(true);
  });

  it('denies, with a reason each, a missing capability, an environment it does not serve, sudo outside the list, a shell and a full target', () => {
    const codes = (answer: ReturnType<typeof ask>) => answer.denials.map((denial) => denial.code);
    expect(codes(ask('uptime', { capability: 'container:control' }))).toEqual(['capability_missing']);
    expect(codes(ask('uptime', { environment: 'prd' }))).toEqual(['environment_not_allowed']);
    expect(codes(ask('sudo systemctl restart postgres'))).toEqual(['sudo_not_allowed']);
    expect(codes(ask('sudo -u root rm -rf /tmp/x'))).toEqual(['sudo_not_allowed']);
    expect(codes(ask('sudo uptime', {}, { sudoPolicy: 'none' }))).toEqual(['sudo_not_allowed']);
    expect(codes(ask('uptime | head'))).toEqual(['shell_not_allowed']);
    expect(codes(ask('uptime', { running: 2 }))).toEqual(['concurrency_exceeded']);
    const all = ask('sudo reboot; echo x', { environment: 'prd', capability: 'stack:deploy', running: 9 });
    expect(all.allow).toBe(false);
    expect(codes(all)).toEqual(['environment_not_allowed', 'capability_missing', 'shell_not_allowed', 'concurrency_exceeded']);
    for (const denial of all.denials) expect(denial.reason).toContain('box');
  });

  it('in shadow mode records the denials and lets the operation through', () => {
    const answer = ask('uptime', { environment: 'prd' }, { mode: 'shadow' });
    expect(answer).toMatchObject({ allow: true, shadow: true, denials: [{ code: 'environment_not_allowed' }] });
  });
});

describe('reloading the registry', () => {
  const good = 'targets:\n  one: { executor: local, capabilities: [exec] }\n';
  const better = 'targets:\n  one: { executor: local, capabilities: [exec] }\n  two: { executor: local, capabilities: [exec, system:read], mode: shadow, environments: [dev] }\n';

  it('swaps in a valid file, keeps the old registry on a broken one, audits both with the file hash', async () => {
    const file = fileWith(good);
    const server = await startTestServer({ targets: { file } });
    const { key } = await server.runtime.keys.create({ name: 'admin', scopes: ['admin'], actor: 'test' });
    const ids = async () => ((await http('GET', `${server.url}/v1/targets`, { headers: bearer(key) })).body.targets as Array<{ id: string }>).map((target) => target.id);
    expect(await ids()).toEqual(['one']);

    writeFileSync(file, better);
    const reloaded = await http('POST', `${server.url}/v1/admin/reload`, { headers: bearer(key) });
    expect(reloaded.body).toMatchObject({ reloaded: true, targets: ['one', 'two'], sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await ids()).toEqual(['one', 'two']);

    writeFileSync(file, 'targets:\n  one: { executor: telnet }\n');
    const broken = await http('POST', `${server.url}/v1/admin/reload`, { headers: bearer(key) });
    expect(broken.status).toBe(422);
    expect(broken.body.code).toBe('config_reload_failed');
    expect(broken.body.problems.length).toBeGreaterThan(0);
    for (const problem of broken.body.problems) expect(problem).toMatch(new RegExp(`^${file}: `));
    // Still serving, with the registry it had.
    expect(await ids()).toEqual(['one', 'two']);
    const shadowed = await http('POST', `${server.url}/v1/approvals`, { headers: bearer(key), json: { worker_id: 'w', task_name: 't', command: 'uptime', deployment_env: 'test', target: 'two' } });
    expect(shadowed.status).toBe(201);
    const events = await server.runtime.store.db.selectFrom('audit_events').select(['action', 'data']).where('action', 'like', '%.%').orderBy('seq').execute();
    const actions = events.map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(['targets.reloaded', 'targets.reload_failed', 'policy.shadow_denied']));
    expect(JSON.parse(events.find((event) => event.action === 'targets.reloaded')!.data).sha256).toBe(reloaded.body.sha256);
  });

  it('reloads on SIGHUP and when the file changes', async () => {
    const cwd = tmpDir();
    const file = join(cwd, 'targets.yaml');
    writeFileSync(file, good);
    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0'], { cwd, env: cleanEnv({ AIRLOCK_TARGETS_FILE: file, AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'Reload-Test-Password-77' }) });
    writeFileSync(file, better);
    server.signal('SIGHUP');
    await server.waitFor('targets reloaded');
    writeFileSync(file, 'targets:\n  three: { executor: local, capabilities: [exec] }\n');
    // The watcher's reload is audited like any other; the chain shows it.
    let actions: string[] = [];
    for (let attempt = 0; attempt < 50 && actions.filter((action) => action === 'targets.reloaded').length < 2; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const tail = await runCli(['audit', 'tail', '--json', '-n', '50'], { cwd });
      actions = tail.stdout.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { action: string }).action);
    }
    expect(actions.filter((action) => action === 'targets.reloaded')).toHaveLength(2);
    const listed = await runCli(['targets', 'list', '--json'], { cwd, env: { AIRLOCK_TARGETS_FILE: file } });
    expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((target) => target.id)).toEqual(['three']);
    const check = await runCli(['targets', 'check'], { cwd, env: { AIRLOCK_TARGETS_FILE: file } });
    expect(check).toMatchObject({ code: 0 });
    expect(check.stdout).toMatch(/^OK {3}three/m);
    server.signal('SIGTERM');
    await server.exited;
  });
});
