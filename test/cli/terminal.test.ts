import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { startGate } from '../helpers/gate.js';
import { tmpDir } from '../helpers/tmp.js';

// Colours and the spinner are for people at a terminal: a pipe gets plain text, NO_COLOR turns colours
// off, FORCE_COLOR turns them on. A terminal is made with util-linux `script`, which runs the command
// on a pseudo-terminal (standard output and standard error both) and copies what it printed.

const SCRIPT = '/usr/bin/script';
const ESC = '\x1b[';
const SPINNER_FRAMES = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `airlock ARGS` on a terminal: everything it printed there, standard error included. */
function onTerminal(args: readonly string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map(quote).join(' ');
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { cwd: tmpDir(), env: cleanEnv({ TERM: 'xterm-256color', ...env }) });
    child.stdin.end();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

describe('output on a terminal and in a pipe', () => {
  let gate: Awaited<ReturnType<typeof startGate>>;
  let pending: string;
  let agent: Record<string, string>;
  beforeAll(async () => {
    gate = await startGate('sqlite');
    agent = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    // MEDIUM: it waits for a person, who never comes in this file.
    pending = (await gate.request({ command: 'kill -0 1', deployment_env: 'dev' })).body.request.request_id as string;
    await gate.request({ command: 'echo listed', deployment_env: 'dev' });
  });

  it('prints plain text to a pipe: no colours, no spinner', async () => {
    const [listed, waited] = await Promise.all([
      // CI=true alone does not colour a pipe (picocolors would).
      runCli(['approvals', 'list'], { cwd: tmpDir(), env: { ...agent, CI: 'true' } }),
      runCli(['approvals', 'wait', pending, '--timeout', '1'], { cwd: tmpDir(), env: agent }),
    ]);
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+RISK\s+ENV\s+TARGET\s+COMMAND\n/);
    expect(listed.stdout).toMatch(/\s+PENDING\s+MEDIUM\s+dev\s+local\s+kill -0 1$/m);
    expect(listed.stdout + listed.stderr).not.toContain(ESC);
    expect(waited.code).toBe(1);
    expect(waited.stdout).toBe(`request ${pending}: PENDING\n`);
    // Only the outcome: no spinner frames, no cursor movements.
    expect(waited.stderr).toBe(`airlock: request ${pending} is still pending after 1 s [wait_timeout]\n`);
  });

  it('colours a pipe only when FORCE_COLOR asks for it, and never with NO_COLOR', async () => {
    const [forced, refused] = await Promise.all([
      runCli(['approvals', 'list'], { cwd: tmpDir(), env: { ...agent, FORCE_COLOR: '1' } }),
      runCli(['approvals', 'list'], { cwd: tmpDir(), env: { ...agent, FORCE_COLOR: '1', NO_COLOR: '1' } }),
    ]);
    expect(forced.stdout).toContain(`${ESC}1mID`);
    expect(forced.stdout).toContain(`${ESC}33mPENDING`);
    expect(refused.stdout).not.toContain(ESC);
  });

  describe.skipIf(!existsSync(SCRIPT))('on a terminal', () => {
    it('colours tables and status words, and spins on standard error while it waits for a decision', async () => {
      const [listed, waited] = await Promise.all([onTerminal(['approvals', 'list'], agent), onTerminal(['approvals', 'wait', pending, '--timeout', '1'], agent)]);
      expect(listed).toContain(`${ESC}1mID`);
      expect(listed).toContain(`${ESC}33mPENDING`);
      expect(waited).toContain(`waiting for a decision on ${pending}`);
      expect(waited).toMatch(SPINNER_FRAMES);
      expect(waited).toContain(`request ${pending}: ${ESC}33mPENDING`);
    });

    it('leaves colours off with NO_COLOR, even on a terminal', async () => {
      const listed = await onTerminal(['approvals', 'list'], { ...agent, NO_COLOR: '1' });
      expect(listed).toMatch(/^ID\s+STATUS/);
      expect(listed).not.toContain(ESC);
    });
  });
});
