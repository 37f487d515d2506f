import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/executors/executor.js';
import { LocalHost } from '../../src/operations/local-host.js';
import { OP_ARGS } from '../../src/operations/schema.js';
import { cronList, journalRead, parseCrontab } from '../../src/operations/system.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * The machine itself, except that the programs named in `answers` are answered with the given output
 * (journald and cron do not run on a CI machine): what matters is the argv asked for and the parsing.
 */
class RecordingHost extends LocalHost {
  readonly asked: string[][] = [];
  constructor(private readonly answers: Record<string, { output: string; exitCode?: number }>) {
    super({ timeoutSeconds: 10, outputCapBytes: 1 << 20, cwd: tmpDir() });
  }
  override async exec(argv: readonly string[]): Promise<ExecResult> {
    this.asked.push([...argv]);
    const answer = this.answers[argv[0] as string];
    if (!answer) return super.exec(argv);
    const exitCode = answer.exitCode ?? 0;
    const output = Buffer.from(answer.output);
    return { status: exitCode === 0 ? 'succeeded' : 'failed', exitCode, output, stdout: output, stderr: Buffer.alloc(0), truncated: false, durationMs: 1 };
  }
}

describe('system operations', () => {
  it('journal.read asks journalctl for JSON with the validated arguments and returns entries', async () => {
    const line = (message: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ __REALTIME_TIMESTAMP: '1763900000000000', _SYSTEMD_UNIT: 'nginx.service', PRIORITY: '6', MESSAGE: message, ...extra });
    const host = new RecordingHost({ journalctl: { output: `${line('started')}\n${line([104, 105], { _SYSTEMD_UNIT: undefined, SYSLOG_IDENTIFIER: 'kernel' })}\n` } });
    const result = await journalRead(host, OP_ARGS['journal.read'].parse({ unit: 'nginx.service', lines: 2, since: '15m' }));
    expect(host.asked).toEqual([['journalctl', '--no-pager', '--output=json', '--lines=2', '--unit=nginx.service', '--since=-15min']]);
    expect(result.entries).toEqual([
      { time: '2025-11-23T12:13:20.000Z', unit: 'nginx.service', priority: 6, message: 'started' },
      { time: '2025-11-23T12:13:20.000Z', unit: 'kernel', priority: 6, message: 'hi' },
    ]);
    await journalRead(host, OP_ARGS['journal.read'].parse({ since: '2026-01-02T03:04:05+02:00' }));
    expect(host.asked[1]).toEqual(['journalctl', '--no-pager', '--output=json', '--lines=100', '--since=2026-01-02 01:04:05', '--utc']);
  });

  it('cron.list parses a crontab, and a user without one has an empty list rather than a failure', async () => {
    const text = '# m h dom mon dow command\nMAILTO=ops@example.com\n*/5 * * * * /usr/local/bin/backup --quick\n@reboot /opt/app/start\n\n';
    expect(parseCrontab(text)).toEqual([
      { schedule: '*/5 * * * *', command: '/usr/local/bin/backup --quick' },
      { schedule: '@reboot', command: '/opt/app/start' },
    ]);
    const host = new RecordingHost({ crontab: { output: text } });
    expect(await cronList(host, { user: 'www-data' })).toMatchObject({ user: 'www-data', entries: [{ schedule: '*/5 * * * *' }, { schedule: '@reboot' }] });
    expect(host.asked).toEqual([['crontab', '-l', '-u', 'www-data']]);
    const none = new RecordingHost({ crontab: { output: 'no crontab for root\n', exitCode: 1 } });
    expect(await cronList(none, {})).toEqual({ user: null, entries: [] });
    const broken = new RecordingHost({ crontab: { output: 'crontab: must be privileged to use -u\n', exitCode: 1 } });
    await expect(cronList(broken, { user: 'x' })).rejects.toMatchObject({ code: 'operation_failed' });
  });
});
