import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, startWaitingCli } from '../helpers/cli.js';
import { storeKinds } from '../helpers/databases.js';
import { REFERENCE_INSTRUCTION, startGate } from '../helpers/gate.js';
import { tmpDir } from '../helpers/tmp.js';

describe.each(storeKinds())('the command-line client on %s', (kind) => {
  // One server per store for the whole file: each test makes requests of its own and looks only at them.
  let gate: Awaited<ReturnType<typeof startGate>>;
  beforeAll(async () => {
    gate = await startGate(kind);
  });

  it('passes the reference 8-test suite (airlock smoke)', async () => {
    const result = await runCli(['smoke', '--url', gate.url], {
      cwd: tmpDir(),
      env: { AIRLOCK_REQUEST_KEY: gate.agent, AIRLOCK_READ_KEY: gate.agent, AIRLOCK_DECIDE_KEY: gate.approver },
    });
    expect(result.stdout.trim().split('\n').filter((line) => / PASS /.test(line))).toHaveLength(8);
    expect(result.stdout).toContain('ALL 8 TESTS PASSED');
    expect(result.code).toBe(0);
  });

  it('smoke fails loudly, with exit 1, when a key cannot decide', async () => {
    const result = await runCli(['smoke', '--url', gate.url, '--json'], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: gate.agent, AIRLOCK_DECIDE_KEY: 'alk_bogus' } });
    const outcomes = JSON.parse(result.stdout) as Array<{ name: string; pass: boolean }>;
    expect(outcomes.filter((outcome) => !outcome.pass).map((outcome) => outcome.name)).toEqual([
      'Generate capability token',
      'Execute command via gateway',
      'Token replay protection',
      'Audit log verification',
    ]);
    expect(result.code).toBe(1);
  });

  it('run: requests, waits for a person, mints, executes, and exits with the command\'s code', async () => {
    const env = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    const [quick, failing] = await Promise.all([
      runCli(['run', '--env', 'dev', '--', 'echo', 'hello world'], { cwd: tmpDir(), env }),
      runCli(['run', '--env', 'dev', '--', 'ls', '/no/such/path'], { cwd: tmpDir(), env }),
    ]);
    expect(quick).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(failing.code).toBe(2);

    // A MEDIUM request waits until the approver decides.
    const approved = await startWaitingCli(['run', '--env', 'dev', '--', 'kill', '-0', '1'], env);
    expect(approved.level).toBe('MEDIUM');
    const approve = await runCli(['approve', approved.id, '--reason', 'fine'], { cwd: tmpDir(), env: { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.approver } });
    expect(approve.stdout).toContain('APPROVED');
    expect(await approved.exited).toBe(0);
    expect(approved.output.stdout).toBe('');

    // Rejected: no execution, exit 1 with the reason.
    const rejected = await startWaitingCli(['run', '--env', 'dev', '--', 'kill', '-0', '2'], env);
    await runCli(['reject', rejected.id, '--reason', 'not now'], { cwd: tmpDir(), env: { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.approver } });
    expect(await rejected.exited).toBe(1);
    expect(rejected.output.stderr).toContain(`request ${rejected.id} is REJECTED: not now`);
  });

  it('request, approvals, token and exec work step by step', async () => {
    const agent = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    const instruction = join(tmpDir(), 'instruction.txt');
    writeFileSync(instruction, REFERENCE_INSTRUCTION);
    const requested = await runCli(['request', '--env', 'prd', '--instruction-file', instruction, '--json', '--', 'echo', 'test'], { cwd: tmpDir(), env: agent });
    const request = JSON.parse(requested.stdout) as { request_id: string; status: string; instruction_score: number };
    expect(request).toMatchObject({ status: 'APPROVED', instruction_score: 100 });
    const listed = await runCli(['approvals', 'list', '--status', 'approved'], { cwd: tmpDir(), env: agent });
    expect(listed.stdout).toMatch(new RegExp(`^${request.request_id}\\s+APPROVED\\s+LOW\\s+prd`, 'm'));
    const token = (await runCli(['token', request.request_id], { cwd: tmpDir(), env: agent })).stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const ran = await runCli(['exec', '--token', token, '--', 'echo', 'test'], { cwd: tmpDir(), env: { AIRLOCK_URL: gate.url } });
    expect(ran).toMatchObject({ code: 0, stdout: 'test\n' });
    const again = await runCli(['exec', '--token', token, '--', 'echo', 'test'], { cwd: tmpDir(), env: { AIRLOCK_URL: gate.url } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Token has already been used');
    const shown = await runCli(['approvals', 'show', request.request_id], { cwd: tmpDir(), env: agent });
    expect(shown.stdout).toContain(`request ${request.request_id}: EXECUTED`);
  });

  it('op: runs typed operations through the gate, arguments as key=value, content from a file', async () => {
    const env = { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.agent };
    const dir = tmpDir();
    const path = join(dir, 'app.conf');
    writeFileSync(path, 'old\n');

    // Independent reads, side by side.
    const [read, bad, missing] = await Promise.all([
      runCli(['op', '--env', 'dev', 'file.read', `path=${path}`, 'max_bytes=2'], { cwd: dir, env }),
      runCli(['op', '--env', 'dev', 'file.read', 'path'], { cwd: dir, env }),
      runCli(['op', '--env', 'dev', 'file.read', `path=${join(dir, 'none')}`], { cwd: dir, env }),
    ]);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ path, size: 4, truncated: true, text: 'ol' });

    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"path" is not key=value');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('file_not_found');

    // Writing is HIGH: it waits for a person, who approves with a TOTP code.
    writeFileSync(join(dir, 'new.conf'), 'new\n');
    const writing = await startWaitingCli(['op', '--env', 'dev', 'file.write', `path=${path}`, '--content-file', join(dir, 'new.conf')], env);
    expect(writing.level).toBe('HIGH');
    const approve = await runCli(['approve', writing.id, '--totp', gate.person.code()], { cwd: dir, env: { AIRLOCK_URL: gate.url, AIRLOCK_API_KEY: gate.approver } });
    expect(approve.stdout).toContain('APPROVED');
    expect(await writing.exited).toBe(0);
    const result = JSON.parse(writing.output.stdout) as { backup_path: string };
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(readFileSync(result.backup_path, 'utf8')).toBe('old\n');
  });
});

describe('the command-line client without a server', () => {
  it('explains the policy without a server, and says plainly when the server or key is missing', async () => {
    // Independent invocations, side by side.
    const [explained, spaced, noServer, noKey] = await Promise.all([
      runCli(['policy', 'explain', '--env', 'prd', '--', 'systemctl', 'restart', 'nginx'], { cwd: tmpDir() }),
      // Words after -- stay arguments, exactly as `airlock run` sends them.
      runCli(['policy', 'explain', '--env', 'dev', '--json', '--', 'echo', 'a b'], { cwd: tmpDir() }),
      runCli(['approvals', 'list', '--url', 'http://127.0.0.1:59998'], { cwd: tmpDir(), env: { AIRLOCK_API_KEY: 'alk_x' } }),
      runCli(['approvals', 'list'], { cwd: tmpDir() }),
    ]);
    expect(explained.stdout).toContain('HIGH in prd: a person must approve');
    expect(explained.stdout).toContain('service-control: starts, stops or restarts a service');
    expect(explained.stdout).toContain('environment: prd raises MEDIUM to HIGH');
    expect(JSON.parse(spaced.stdout).op).toEqual({ kind: 'exec', argv: ['echo', 'a b'] });
    expect(noServer.stderr).toMatch(/cannot reach Airlock at http:\/\/127\.0\.0\.1:59998: ECONNREFUSED \[server_unreachable\]/);
    expect(noKey.stderr).toContain('set AIRLOCK_API_KEY');
    expect(noKey.code).toBe(1);
  });
});
