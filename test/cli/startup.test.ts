import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, cleanEnv } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

// The command line must start without the server: --help, --version, completion and the client
// commands load only the command definitions, commander and the terminal helpers. Every module the
// program loads is recorded by a module hook (fixtures/trace-loads.mjs), so this holds whatever the
// timing of the machine.

const TRACER = fileURLToPath(new URL('./fixtures/trace-loads.mjs', import.meta.url));

/** Packages of the server side: the HTTP server, the store, executors, notifications, logging. */
const SERVER_PACKAGES = ['fastify', '@fastify', 'kysely', 'pg', 'better-sqlite3', '@modelcontextprotocol', 'ssh2', 'dockerode', 'ioredis', 'grammy', 'pino', 'prom-client', 'jose', '@node-rs'];
/** Modules of Airlock's own server side. */
const SERVER_MODULES = [/\/dist\/runtime\.js$/, /\/dist\/http\//, /\/dist\/store\//, /\/dist\/gateway\//, /\/dist\/mcp\//];

interface Traced {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The npm packages loaded ("@scope/name" or "name"). */
  readonly packages: string[];
  /** Airlock's own modules loaded, relative to dist/. */
  readonly own: string[];
}

function traced(args: readonly string[], env: Record<string, string> = {}): Promise<Traced> {
  const file = join(tmpDir(), 'loads.txt');
  writeFileSync(file, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TRACER, CLI, ...args], { cwd: tmpDir(), env: cleanEnv({ ...env, AIRLOCK_TRACE_LOADS: file }) });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      const packages = new Set<string>();
      for (const url of urls) {
        const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
        if (match?.[1]) packages.add(match[1]);
      }
      const own = urls.filter((url) => !url.includes('/node_modules/') && url.includes('/dist/')).map((url) => url.slice(url.lastIndexOf('/dist/') + 6));
      resolve({ code, stdout, stderr, packages: [...packages].sort(), own });
    });
  });
}

function serverCodeIn(run: Traced): string[] {
  return [
    ...run.packages.filter((name) => SERVER_PACKAGES.some((server) => name === server || name.startsWith(`${server}/`))),
    ...run.own.filter((module) => SERVER_MODULES.some((pattern) => pattern.test(`/dist/${module}`))),
  ];
}

describe('the command line starts without the server', () => {
  it.each([['--version'], ['--help'], ['approvals', '--help'], ['run', '--help'], ['users', '--help'], ['completion', 'bash']])(
    'airlock %s loads only commander and picocolors',
    async (...args) => {
      const run = await traced(args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).not.toBe('');
      expect(serverCodeIn(run)).toEqual([]);
      // Not even the configuration loader (zod, yaml): nothing reads a setting here.
      expect(run.packages).toEqual(['commander', 'picocolors']);
    },
  );

  it('client commands talk to the server without loading it', async () => {
    const env = { AIRLOCK_URL: 'http://127.0.0.1:1', AIRLOCK_API_KEY: 'alk_x' };
    const runs = await Promise.all([
      traced(['run', '--env', 'dev', '--', 'echo', 'a b'], env),
      traced(['request', '--env', 'dev', '--json', '--', 'echo', 'hi'], env),
      traced(['approvals', 'list'], env),
      traced(['approvals', 'wait', '0190a0a0-0000-7000-8000-000000000000', '--timeout', '1'], env),
    ]);
    for (const run of runs) {
      // They got as far as the network: the server is not there.
      expect(run.stderr).toContain('[server_unreachable]');
      expect(run.code).toBe(1);
      expect(serverCodeIn(run)).toEqual([]);
      expect(run.packages.every((name) => ['commander', 'picocolors', 'yocto-spinner', 'yoctocolors'].includes(name)), run.packages.join(', ')).toBe(true);
    }
  });

  it('sees the server side where a command needs it', async () => {
    // The same trace on a command that opens the store: what the checks above look for does show up.
    const run = await traced(['migrate', '--json', '--data-dir', join(tmpDir(), 'data')]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ applied: expect.any(Array), total: expect.any(Number) });
    expect(serverCodeIn(run)).toEqual(expect.arrayContaining(['kysely', 'better-sqlite3']));
    expect(run.own).toContain('store/migrate.js');
  });
});
