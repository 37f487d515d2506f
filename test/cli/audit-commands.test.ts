import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { events } from '../helpers/audit.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/** A data directory with 12 events appended through a runtime that mirrors them to a JSONL file. */
async function populated() {
  const dataDir = join(tmpDir(), 'data');
  const config = testConfig({ dataDir, audit: { mirrorFile: 'logs/audit.jsonl' } });
  const runtime = await openRuntime(config, createLogger('silent'));
  await runtime.audit.record(events(10));
  await runtime.audit.record({ actor: 'user:alice', action: 'approval.decided', subject: { type: 'approval', id: 'apr_9' }, environment: 'prd', target: 'web-1', data: { decision: 'approve' } });
  await runtime.audit.record({ actor: 'test', action: 'test.event', data: { note: 'line\nbreak "quoted"' } });
  await runtime.close();
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir], { cwd: tmpDir() });
  return { config, cli };
}

describe('audit export and tail', () => {
  it('exports every event as JSON lines equal to the live mirror file, and resumes after --since', async () => {
    const { config, cli } = await populated();
    const file = join(tmpDir(), 'out.jsonl');
    // Independent reads of the same chain, side by side.
    const [all, since, written] = await Promise.all([cli('audit', 'export', '--format', 'jsonl'), cli('audit', 'export', '--since', '10'), cli('audit', 'export', '--output', file)]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(12);
    const parsed = lines.map((line) => JSON.parse(line) as { seq: number; hash: string; prev_hash: string; data: unknown });
    expect(parsed.map((event) => event.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(parsed[11]?.data).toEqual({ note: 'line\nbreak "quoted"' });
    expect(parsed[1]?.prev_hash).toBe(parsed[0]?.hash);

    const mirrorFile = config.paths.auditMirrorFile;
    expect(mirrorFile).toBe(join(config.paths.base, 'logs', 'audit.jsonl'));
    expect(readFileSync(mirrorFile as string, 'utf8')).toBe(all.stdout);

    expect(since.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([11, 12]);

    expect(written.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(all.stdout);
  });

  it('stops quietly when its reader stops early', async () => {
    const { config } = await populated();
    // Enough output that the writer is still writing when head has gone.
    const runtime = await openRuntime(config, createLogger('silent'));
    await runtime.audit.record(events(3000).map((event) => ({ ...event, data: { ...event.data, pad: 'x'.repeat(500) } })));
    await runtime.close();
    const { spawnSync } = await import('node:child_process');
    const piped = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" audit export --data-dir "${config.paths.base}" | head -c 10`], { encoding: 'utf8', env: cleanEnv() });
    expect(piped.stdout).toHaveLength(10);
    expect(piped.stderr).not.toMatch(/EPIPE|^\s+at /m);
  });

  it('tails the newest events, readable or as JSON lines', async () => {
    const { cli } = await populated();
    const [human, json] = await Promise.all([cli('audit', 'tail', '-n', '2'), cli('audit', 'tail', '-n', '3', '--json')]);
    const humanLines = human.stdout.trim().split('\n');
    expect(humanLines).toHaveLength(2);
    expect(humanLines[0]).toMatch(/^\s*11\s+\S+Z\s+user:alice\s+approval\.decided approval:apr_9\s+env=prd target=web-1\s+\{"decision":"approve"\}$/);
    expect(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([10, 11, 12]);
  });

  it('follows the chain: events appended after it started are printed as they commit', async () => {
    const { config } = await populated();
    const child = spawn(process.execPath, [CLI, 'audit', 'tail', '-n', '1', '--follow', '--json', '--data-dir', config.paths.base], { env: cleanEnv() });
    let output = '';
    const waiting = new Set<() => void>();
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const check of waiting) check();
    });
    const seen = (count: number) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (output.trim().split('\n').filter(Boolean).length < count) return;
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      });
    await seen(1);
    const runtime = await openRuntime(config, createLogger('silent'));
    await runtime.audit.record([{ actor: 'late', action: 'test.followed', data: { n: 1 } }, { actor: 'late', action: 'test.followed', data: { n: 2 } }]);
    await runtime.close();
    await seen(3);
    child.kill('SIGTERM');
    const seqs = output.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number; actor: string }).seq);
    expect(seqs).toEqual([12, 13, 14]);
  });

  it('refuses bad options with exit 2 and prints nothing else', async () => {
    const { cli } = await populated();
    const cases = [
      ['audit', 'export', '--format', 'csv'],
      ['audit', 'export', '--since', '-1'],
      ['audit', 'export', '--since', 'abc'],
      ['audit', 'tail', '-n', '1.5'],
      ['audit', 'verify', '--threads', '0'],
    ];
    const results = await Promise.all(cases.map((args) => cli(...args)));
    for (const [index, result] of results.entries()) {
      const args = cases[index] as string[];
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/error: option .* (argument|must be|Allowed choices)/);
      expect(result.stdout).toBe('');
    }
  });

  it('says plainly when the database holds no chain yet', async () => {
    const cwd = tmpDir();
    const result = await runCli(['audit', 'verify', '--database-url', `sqlite:${join(cwd, 'empty.db')}`], { cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/holds no audit chain yet: run `airlock init` or `airlock migrate` \[audit_missing\]/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
