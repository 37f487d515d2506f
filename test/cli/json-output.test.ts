import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonShapeOf, type JsonShape } from '../../src/cli/json-doc.js';
import { buildProgram } from '../../src/cli/program.js';
import { jsonReference, leafCommands } from '../../src/cli/reference.js';
import { totpCode } from '../../src/identity/totp.js';
import { CLI, REPO_ROOT, cleanEnv, runCli, type CliResult } from '../helpers/cli.js';
import { approvedToken, execute, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson } from '../helpers/identity.js';
import { tmpDir } from '../helpers/tmp.js';

// Every command that prints results takes --json, says in its help what the JSON holds, and prints
// exactly that. The list of commands comes from the program itself: a new command without --json, or
// without a scenario here, fails this file.

/** Commands without --json, and why. Anything else that does something must have it. */
const EXEMPT: Record<string, string> = {
  serve: 'runs the server; its log is JSON lines already',
  mcp: 'speaks the MCP protocol on standard input and output',
  'audit export': 'its output is JSON lines already (the export format)',
  completion: 'prints a shell script',
};

const program = buildProgram();
const leaves = leafCommands(program);
const PASSWORD = 'Json-Output-Password-Strong-1';

type Lane = 'local' | 'client';
interface Scenario {
  /** Commands on this machine's store and commands through the server run side by side, each lane in order. */
  readonly lane: Lane;
  /** Prepares what the command needs, runs it with --json, and returns what it printed. */
  readonly run: () => Promise<CliResult>;
}

/** The words of a command with --json added, before the `--` that starts a command line to run. */
function withJsonFlag(args: readonly string[]): string[] {
  const dashes = args.indexOf('--');
  return dashes < 0 ? [...args, '--json'] : [...args.slice(0, dashes), '--json', ...args.slice(dashes)];
}

/** Runs a command that keeps printing (watch) until its first line, then stops it as Ctrl-C would. */
function firstLine(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) child.kill('SIGINT');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ code: 0, stdout: stdout.slice(0, stdout.indexOf('\n') + 1), stderr }));
  });
}

/** The objects a command printed, as its shape says it prints them. */
function objectsOf(shape: JsonShape, stdout: string): Record<string, unknown>[] {
  if (shape.shape === 'lines') return stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const parsed = JSON.parse(stdout) as unknown;
  if (shape.shape === 'array') {
    expect(Array.isArray(parsed)).toBe(true);
    return parsed as Record<string, unknown>[];
  }
  expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  return [parsed as Record<string, unknown>];
}

describe('--json on every command', () => {
  it('every command that does something takes --json and documents its fields, or is exempt for a stated reason', () => {
    const missing = leaves.filter(({ path, command }) => !(path in EXEMPT) && !(jsonShapeOf(command) && command.options.some((option) => option.long === '--json')));
    expect(missing.map(({ path }) => path)).toEqual([]);
    // An exempt command that gains --json must leave the list.
    const needless = leaves.filter(({ path, command }) => path in EXEMPT && command.options.some((option) => option.long === '--json'));
    expect(needless.map(({ path }) => path)).toEqual([]);
    expect(Object.keys(EXEMPT).filter((path) => !leaves.some((leaf) => leaf.path === path))).toEqual([]);
  });

  it('says so in each command\'s help', async () => {
    const help = await runCli(['users', 'list', '--help'], { cwd: tmpDir() });
    expect(help.stdout).toContain('JSON (--json): an array of objects with id, username, kind, role, status, totp_enrolled');
  });

  it('docs/CLI.md lists every command with what its --json prints, as the help does', () => {
    const page = readFileSync(join(REPO_ROOT, 'docs', 'CLI.md'), 'utf8');
    const section = page.slice(page.indexOf('<!-- reference:start -->') + '<!-- reference:start -->'.length + 1, page.indexOf('<!-- reference:end -->'));
    // When this fails: npm run build && node scripts/cli-reference.mjs
    expect(section).toBe(jsonReference(program));
  });

  describe('prints what it documents', () => {
    let gate: Awaited<ReturnType<typeof startGate>>;
    let scenarios: Record<string, Scenario>;
    const results = new Map<string, CliResult | Error>();

    beforeAll(async () => {
      gate = await startGate('sqlite');
      const runtime = gate.server.runtime;
      const cwd = tmpDir();
      /** Admin commands on the server's own store, as its operator runs them on its machine. */
      const admin = { AIRLOCK_DATA_DIR: runtime.config.paths.base, AIRLOCK_DATABASE_URL: gate.database.url };
      const local = (...args: string[]) => runCli(withJsonFlag(args), { cwd, env: admin });
      /** A setup of its own for what changes keys for good (rotations). */
      const own = { cwd: tmpDir(), env: { AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } };
      expect((await runCli(['init'], own)).code).toBe(0);
      const agent = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
      const approver = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.approver };
      const adminClient = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.admin };
      const client = (env: Record<string, string>, ...args: string[]) => runCli(withJsonFlag(args), { cwd, env });
      const person = { AIRLOCK_URL: gate.url, AIRLOCK_CREDENTIALS_FILE: join(cwd, 'credentials.json') };
      await runtime.users.create({ username: 'json-person', role: 'requester', password: PASSWORD, actor: 'test' });
      const workspaceKey = (await runtime.keys.create({ name: 'json-workspaces', scopes: ['workspaces:use'], owner: 'json-person', actor: 'test' })).key;
      const workspaces = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: workspaceKey };
      const login = (json: boolean) => runCli(['login', '--user', 'json-person', '--password-stdin', ...(json ? ['--json'] : [])], { cwd, env: person, input: `${PASSWORD}\n` });
      const backupFile = join(tmpDir(), 'airlock.backup');
      const state: { secret?: string; challenge?: string; request?: string; webhook?: string; workspace?: string } = {};
      const pending = async (command: string): Promise<string> => (await gate.request({ command, deployment_env: 'dev' })).body.request.request_id as string;

      scenarios = {
        init: { lane: 'local', run: () => runCli(['init', '--json'], { cwd: tmpDir(), env: { AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } }) },
        'config validate': { lane: 'local', run: () => local('config', 'validate') },
        doctor: { lane: 'local', run: () => local('doctor') },
        migrate: { lane: 'local', run: () => local('migrate') },
        'keys create': { lane: 'local', run: () => local('keys', 'create', '--name', 'json-key', '--scope', 'approvals:read') },
        'keys list': { lane: 'local', run: () => local('keys', 'list') },
        'keys revoke': {
          lane: 'local',
          run: async () => local('keys', 'revoke', (await runtime.keys.create({ name: 'json-revoke', scopes: ['approvals:read'], actor: 'test' })).info.prefix),
        },
        'keys rotate-signing': { lane: 'local', run: () => runCli(['keys', 'rotate-signing', '--json'], own) },
        'keys rotate-audit': { lane: 'local', run: () => runCli(['keys', 'rotate-audit', '--json'], own) },
        'users add': { lane: 'local', run: () => local('users', 'add', 'json-user', '--role', 'approver') },
        'users list': { lane: 'local', run: () => local('users', 'list') },
        'users disable': { lane: 'local', run: () => local('users', 'disable', 'json-user') },
        'users enable': { lane: 'local', run: () => local('users', 'enable', 'json-user') },
        'users reset-password': { lane: 'local', run: () => local('users', 'reset-password', 'json-user') },
        'users set-role': { lane: 'local', run: () => local('users', 'set-role', 'json-user', 'auditor') },
        'users reset-totp': { lane: 'local', run: async () => local('users', 'reset-totp', (await createPerson(runtime, 'json-totp', 'auditor')).username) },
        login: { lane: 'client', run: () => login(true) },
        logout: { lane: 'client', run: () => client(person, 'logout') },
        whoami: { lane: 'client', run: () => client(agent, 'whoami') },
        'totp enroll': {
          lane: 'client',
          run: async () => {
            expect((await login(false)).code).toBe(0);
            const result = await client(person, 'totp', 'enroll');
            state.secret = (JSON.parse(result.stdout) as { secret: string }).secret;
            return result;
          },
        },
        'totp confirm': { lane: 'client', run: () => client(person, 'totp', 'confirm', totpCode(state.secret as string)) },
        'challenge plan': {
          lane: 'client',
          run: async () => {
            const result = await client(person, 'challenge', 'plan', 'read the json');
            state.challenge = (JSON.parse(result.stdout) as { challenge_id: string }).challenge_id;
            return result;
          },
        },
        // The confirmation used the current code: approve with the next one.
        'challenge approve': { lane: 'client', run: () => client(person, 'challenge', 'approve', state.challenge as string, totpCode(state.secret as string, Date.now() + 30_000)) },
        'challenge status': { lane: 'client', run: () => client(person, 'challenge', 'status', state.challenge as string) },
        'targets list': { lane: 'local', run: () => local('targets', 'list') },
        'targets show': { lane: 'local', run: () => local('targets', 'show', 'local') },
        'targets check': { lane: 'local', run: () => local('targets', 'check') },
        'receipt verify': {
          lane: 'local',
          run: async () => {
            const approved = await approvedToken(gate, 'echo receipt');
            const ran = await execute(gate.url, approved.token, { command: approved.command, approval_id: approved.id, environment: approved.environment });
            const file = join(tmpDir(), 'execution.json');
            writeFileSync(file, ran.text);
            return local('receipt', 'verify', file, '--jwks', `${gate.url}/.well-known/jwks.json`);
          },
        },
        request: {
          lane: 'client',
          run: async () => {
            const result = await client(agent, 'request', '--env', 'dev', '--', 'echo', 'json');
            state.request = (JSON.parse(result.stdout) as { request_id: string }).request_id;
            return result;
          },
        },
        'approvals wait': { lane: 'client', run: () => client(agent, 'approvals', 'wait', state.request as string) },
        'approvals list': { lane: 'client', run: () => client(agent, 'approvals', 'list', '-n', '5') },
        'approvals show': { lane: 'client', run: () => client(agent, 'approvals', 'show', state.request as string) },
        watch: { lane: 'client', run: () => firstLine(['watch', '--json', '--after', '0'], agent) },
        approve: { lane: 'client', run: async () => client(approver, 'approve', await pending('kill -0 1'), '--reason', 'fine') },
        reject: { lane: 'client', run: async () => client(approver, 'reject', await pending('kill -0 2'), '--reason', 'not now') },
        token: { lane: 'client', run: async () => client(agent, 'token', await pending('echo token')) },
        exec: {
          lane: 'client',
          run: async () => {
            const approved = await approvedToken(gate, 'echo exec');
            return client({ AIRLOCK_URL: gate.url }, 'exec', '--token', approved.token, '--', 'echo', 'exec');
          },
        },
        run: { lane: 'client', run: () => client(agent, 'run', '--env', 'dev', '--', 'echo', 'run') },
        op: { lane: 'client', run: () => client(agent, 'op', '--env', 'dev', 'system.info') },
        'policy explain': { lane: 'local', run: () => local('policy', 'explain', '--env', 'prd', '--', 'systemctl', 'restart', 'nginx') },
        smoke: { lane: 'client', run: () => runCli(['smoke', '--url', gate.url, '--json'], { cwd, env: { AIRLOCK_REQUEST_KEY: gate.agent, AIRLOCK_READ_KEY: gate.agent, AIRLOCK_DECIDE_KEY: gate.approver } }) },
        'audit verify': { lane: 'local', run: () => local('audit', 'verify') },
        'audit tail': { lane: 'local', run: () => local('audit', 'tail', '-n', '3') },
        backup: { lane: 'local', run: () => local('backup', '--out', backupFile) },
        restore: {
          lane: 'local',
          run: () => {
            const into = tmpDir();
            return runCli(['restore', '--in', backupFile, '--data-dir', into, '--database-url', `sqlite:${join(into, 'restored.db')}`, '--json'], { cwd, env: {} });
          },
        },
        'incidents add': { lane: 'local', run: () => local('incidents', 'add', '--severity', 'low', '--title', 'json output checked') },
        'chatops init': {
          lane: 'local',
          run: async () => {
            await runtime.users.create({ username: 'json-ops', role: 'admin', password: PASSWORD, actor: 'test' });
            return local('chatops', 'init', '--instance-id', 'json-ops', '--health-port', '18899', '--system-admin', 'json-ops', '--output', join(tmpDir(), 'json-ops.yaml'), '--print-otpauth');
          },
        },
        'incidents list': { lane: 'local', run: () => local('incidents', 'list') },
        'webhooks add': {
          lane: 'client',
          run: async () => {
            const result = await client(adminClient, 'webhooks', 'add', 'http://127.0.0.1:9/json-hook', '--description', 'json');
            state.webhook = (JSON.parse(result.stdout) as { webhook: { id: string } }).webhook.id;
            return result;
          },
        },
        'webhooks list': { lane: 'client', run: () => client(adminClient, 'webhooks', 'list') },
        'webhooks show': { lane: 'client', run: () => client(adminClient, 'webhooks', 'show', state.webhook as string) },
        'webhooks remove': {
          lane: 'client',
          run: async () => {
            const other = await http('POST', `${gate.url}/v1/webhooks`, { headers: bearer(gate.admin), json: { url: 'http://127.0.0.1:9/other' } });
            return client(adminClient, 'webhooks', 'remove', other.body.webhook.id as string);
          },
        },
        'webhooks deliveries': {
          lane: 'client',
          run: async () => {
            // An event after the subscription, so that it has a delivery to list.
            await pending('echo for the webhook');
            for (let i = 0; i < 200; i++) {
              const listed = await http('GET', `${gate.url}/v1/webhooks/${state.webhook}/deliveries`, { headers: bearer(gate.admin) });
              if ((listed.body.deliveries as unknown[]).length > 0) break;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return client(adminClient, 'webhooks', 'deliveries', state.webhook as string);
          },
        },
        'webhooks redrive': { lane: 'client', run: () => client(adminClient, 'webhooks', 'redrive', state.webhook as string) },
        'workspaces create': {
          lane: 'client',
          run: async () => {
            const result = await client(workspaces, 'workspaces', 'create', 'json-space');
            state.workspace = (JSON.parse(result.stdout) as { id: string }).id;
            return result;
          },
        },
        'workspaces list': { lane: 'client', run: () => client(workspaces, 'workspaces', 'list') },
        'workspaces show': { lane: 'client', run: () => client(workspaces, 'workspaces', 'show', state.workspace as string) },
        'workspaces delete': { lane: 'client', run: () => client(workspaces, 'workspaces', 'delete', state.workspace as string) },
        'workspaces restore': { lane: 'client', run: () => client(workspaces, 'workspaces', 'restore', state.workspace as string) },
        'workspaces purge': { lane: 'local', run: () => local('workspaces', 'purge') },
      };

      // Two lanes side by side, each in the order of the program (a command may use what an earlier one made).
      const lane = async (which: Lane): Promise<void> => {
        for (const { path } of leaves) {
          const scenario = scenarios[path];
          if (scenario?.lane !== which) continue;
          try {
            results.set(path, await scenario.run());
          } catch (error) {
            results.set(path, error as Error);
          }
        }
      };
      await Promise.all([lane('local'), lane('client')]);
    }, 180_000);

    it('has a scenario for every command with --json, and none for a command that does not exist', () => {
      const needed = leaves.filter(({ path }) => !(path in EXEMPT)).map(({ path }) => path);
      expect(needed.filter((path) => !(path in scenarios))).toEqual([]);
      expect(Object.keys(scenarios).filter((path) => !needed.includes(path))).toEqual([]);
    });

    it.each(leaves.filter(({ path }) => !(path in EXEMPT)).map(({ path, command }) => [path, command] as [string, Command]))('airlock %s --json', (path, command) => {
      const result = results.get(path);
      if (result instanceof Error) throw result;
      expect(result, 'no scenario ran').toBeDefined();
      const { code, stdout, stderr } = result as CliResult;
      expect(code, stderr).toBe(0);
      const shape = jsonShapeOf(command) as JsonShape;
      const objects = objectsOf(shape, stdout);
      expect(objects.length, 'nothing to check the fields of').toBeGreaterThan(0);
      const documented = new Set([...shape.fields, ...(shape.optional ?? [])]);
      for (const object of objects) {
        // Every field it always has is there, and nothing is there that the help does not name.
        expect(shape.fields.filter((field) => !(field in object))).toEqual([]);
        expect(Object.keys(object).filter((field) => !documented.has(field))).toEqual([]);
      }
    });
  });
});
