import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { knownVariable } from './variables.js';

/**
 * deploy/systemd/airlock-{api,gateway,chat}@.service, checked by systemd itself. `systemd-analyze verify`
 * and `systemd-analyze security --offline=yes` read unit files without a running systemd (there is no
 * PID 1 systemd in a container): verify loads the unit and everything it names, and fails on an unknown
 * setting, a bad value or an ExecStart binary that is not there. So each template is instantiated as
 * `airlock-ROLE@prod.service` in a temporary folder with ExecStart's /usr/local/bin/airlock (where
 * `npm install --global` puts it) replaced by this machine's node and the built CLI, and verify must
 * print nothing at all: systemd prints problems as warnings and still exits 0.
 */
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const INSTALLED_BINARY = '/usr/local/bin/airlock';
const ROLES = ['api', 'gateway', 'chat'] as const;
/** A chat bot instance runs the API role (it mints tokens; a gateway executes them), with the API's user and sandbox. */
const serverRole = (unit: (typeof ROLES)[number]): 'api' | 'gateway' => (unit === 'gateway' ? 'gateway' : 'api');

const template = (role: string): string => readFileSync(join(REPO_ROOT, `deploy/systemd/airlock-${role}@.service`), 'utf8');

function run(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(SYSTEMD_ANALYZE, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '', LANG: 'C.UTF-8' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Writes the template as an instance unit whose binary exists on this machine; returns its path. */
function instantiate(role: string, text = template(role)): string {
  const dir = tmpDir('airlock-systemd-');
  const path = join(dir, `airlock-${role}@prod.service`);
  expect(text).toContain(`ExecStart=${INSTALLED_BINARY} `);
  writeFileSync(path, text.replace(`ExecStart=${INSTALLED_BINARY} `, `ExecStart=${process.execPath} ${CLI} `));
  return path;
}

/** Key=value settings of one section (a key may repeat). */
function settings(text: string, section: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] as string;
      continue;
    }
    if (current !== section) continue;
    const at = line.indexOf('=');
    found.set(line.slice(0, at), [...(found.get(line.slice(0, at)) ?? []), line.slice(at + 1)]);
  }
  return found;
}
const one = (map: Map<string, string[]>, key: string): string | undefined => map.get(key)?.at(-1);

describe('systemd-analyze', () => {
  it('is installed (Debian package systemd; .ci/run installs it)', () => {
    expect(existsSync(SYSTEMD_ANALYZE)).toBe(true);
  });

  it('verify reports a broken unit: the check below is not vacuous', async () => {
    const broken = instantiate('api', template('api').replace('ProtectSystem=strict', 'ProtectSystem=strict\nProtectSystm=yes').replace('RestartSec=2s', 'RestartSec=two seconds'));
    const result = await run(['verify', '--man=no', broken]);
    expect(result.output).toContain("Unknown key 'ProtectSystm'");
    expect(result.output).toContain('Failed to parse sec value, ignoring: two seconds');
    // And an ExecStart binary that does not exist fails it outright.
    const dir = tmpDir('airlock-systemd-');
    const missing = join(dir, 'airlock-api@prod.service');
    writeFileSync(missing, template('api').replace(`ExecStart=${INSTALLED_BINARY} `, 'ExecStart=/nonexistent/airlock '));
    const failed = await run(['verify', '--man=no', missing]);
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain('/nonexistent/airlock');
  });
});

describe.each(ROLES)('airlock-%s@.service', (unit) => {
  const role = serverRole(unit);
  const text = template(unit);
  const service = settings(text, 'Service');

  it('passes systemd-analyze verify as an instance, with nothing printed', async () => {
    const result = await run(['verify', '--man=no', instantiate(unit)]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('has a low exposure in systemd-analyze security', async () => {
    // The threshold is in tenths of the 0-10 exposure scale: api at most 1.5, gateway at most 2.0 ("OK").
    const threshold = role === 'api' ? 15 : 20;
    const result = await run(['security', '--offline=yes', `--threshold=${threshold}`, instantiate(unit)]);
    expect(result.output).toMatch(/Overall exposure level for airlock-\w+@prod\.service: \d\.\d OK/);
    expect(result.code).toBe(0);
  });

  it('runs one role per instance id, with the config, env file and paths of %i', () => {
    const exec = one(service, 'ExecStart') ?? '';
    expect(exec.split(' ')).toEqual([INSTALLED_BINARY, 'serve', '--role', role, '--config', '/etc/airlock/%i.yaml', '--instance-id', '%i', '--data-dir', role === 'api' ? '/var/lib/airlock' : '/var/lib/airlock-gw']);
    expect(one(service, 'EnvironmentFile')).toBe('-/etc/airlock/%i.env');
    const state = role === 'api' ? 'airlock' : 'airlock-gw';
    // Airlock puts an instance's data under <data-dir>/instances/<id>: the state directory systemd makes.
    expect(one(service, 'StateDirectory')).toBe(`${state}/instances/%i ${state}/keys`);
    expect(one(service, 'LogsDirectory')).toBe(`${state}/%i`);
    expect(one(service, 'Environment')).toBe(`AIRLOCK_KEYS_DIR=/var/lib/${state}/keys`);
    for (const assignment of service.get('Environment') ?? []) expect(knownVariable(assignment.split('=')[0] as string)).toBe(true);
  });

  it('reloads on SIGHUP, drains on SIGTERM, restarts on failure', () => {
    expect(one(service, 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one(service, 'KillSignal')).toBe('SIGTERM');
    expect(one(service, 'KillMode')).toBe('mixed');
    expect(one(service, 'Restart')).toBe('on-failure');
    expect(one(service, 'Type')).toBe('exec');
  });

  it('is hardened', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      SystemCallArchitectures: 'native',
      SystemCallFilter: '@system-service',
      UMask: '0077',
      ProtectSystem: role === 'api' ? 'strict' : 'full',
      ProtectHome: role === 'api' ? 'yes' : 'read-only',
      RestrictAddressFamilies: role === 'api' ? 'AF_UNIX AF_INET AF_INET6' : 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    };
    for (const [key, value] of Object.entries(expected)) expect(one(service, key), key).toBe(value);
  });

  it('explains the sandbox settings the two roles set differently, in a comment above each (or above its group)', () => {
    const lines = text.split('\n');
    for (const key of ['ProtectSystem', 'ProtectHome', 'RestrictAddressFamilies', 'NoNewPrivileges', 'PrivateDevices', 'KillMode']) {
      let at = lines.findIndex((line) => line.startsWith(`${key}=`)) - 1;
      while (at > 0 && /^\w+=/.test(lines[at] as string)) at -= 1;
      expect(lines[at], key).toMatch(/^# \S/);
    }
  });
});

describe('the privilege split between the two units', () => {
  const api = settings(template('api'), 'Service');
  const gateway = settings(template('gateway'), 'Service');

  it('runs the roles as different dedicated users, with different data, key and log folders', () => {
    expect(one(api, 'User')).toBe('airlock');
    expect(one(gateway, 'User')).toBe('airlock-gw');
    expect(one(api, 'Group')).toBe('airlock');
    expect(one(gateway, 'Group')).toBe('airlock-gw');
    for (const key of ['StateDirectory', 'LogsDirectory', 'Environment']) expect(one(api, key), key).not.toBe(one(gateway, key));
    expect(one(api, 'StateDirectoryMode')).toBe('0700');
    expect(one(gateway, 'StateDirectoryMode')).toBe('0700');
  });

  it('gives the API role and the chat bots nothing of an executor: no engine socket, no SSH, no netlink', () => {
    for (const unit of ['api', 'chat']) {
      const text = template(unit).split('\n').filter((line) => !line.startsWith('#')).join('\n');
      expect(text, unit).not.toMatch(/docker|podman|\.sock|ssh|SupplementaryGroups|AF_NETLINK/i);
    }
  });

  it('differs from the API unit only in what names it: a chat bot is an API instance with a bot', () => {
    const settingsOnly = (unit: string) => template(unit).split('\n').filter((line) => /^\w+=/.test(line) && !line.startsWith('Description='));
    expect(settingsOnly('chat')).toEqual(settingsOnly('api'));
    expect(one(settings(template('chat'), 'Unit'), 'Description')).toBe('Airlock chat bot (%i)');
  });

  it('lets the gateway finish executions in flight before it is killed', () => {
    expect(one(gateway, 'TimeoutStopSec')).toBe('90s');
    // Above the default gateway.timeoutSeconds (60).
    expect(Number.parseInt(one(gateway, 'TimeoutStopSec') ?? '0', 10)).toBeGreaterThan(60);
  });
});
