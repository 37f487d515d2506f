import { AirlockError } from '../errors.js';
import type { ExecResult } from '../executors/executor.js';
import type { Host } from './host.js';
import type { OpArgs } from './schema.js';

/**
 * system.info, journal.read and cron.list: fixed argv commands and /proc files on the host, parsed
 * into JSON. Nothing of the arguments reaches a shell; each argument is validated by its schema.
 */

async function run(host: Host, argv: readonly string[], options: { okCodes?: readonly number[] } = {}): Promise<ExecResult> {
  const result = await host.exec(argv);
  const ok = result.status === 'succeeded' || (result.exitCode !== null && (options.okCodes ?? []).includes(result.exitCode));
  if (!ok) {
    const said = result.output.toString('utf8').trim().split('\n').slice(-3).join(' ').slice(0, 500);
    throw new AirlockError('operation_failed', `${argv[0]} failed${result.error ? `: ${result.error}` : ` with exit code ${result.exitCode}`}${said ? `: ${said}` : ''}`, { status: 502 });
  }
  return result;
}

export interface SystemInfo {
  readonly hostname: string;
  readonly kernel: string;
  readonly uptime_seconds: number;
  readonly load: readonly [number, number, number];
  readonly memory: { readonly total_bytes: number; readonly available_bytes: number };
  readonly disks: readonly { readonly filesystem: string; readonly mount: string; readonly size_bytes: number; readonly used_bytes: number; readonly available_bytes: number }[];
}

export async function systemInfo(host: Host): Promise<SystemInfo> {
  // One after the other: a target may allow a single command at a time.
  const proc = { uptime: await host.readFile('/proc/uptime', 4096), loadavg: await host.readFile('/proc/loadavg', 4096), meminfo: await host.readFile('/proc/meminfo', 65_536) };
  const uname = await run(host, ['uname', '-nr']);
  const df = await run(host, ['df', '-P', '-k']);
  const [hostname = '', kernel = ''] = uname.stdout.toString('utf8').trim().split(/\s+/);
  const load = proc.loadavg.toString('utf8').trim().split(/\s+/).slice(0, 3).map(Number) as [number, number, number];
  const memory = Object.fromEntries(
    proc.meminfo
      .toString('utf8')
      .split('\n')
      .map((line) => /^(\w+):\s+(\d+)\s*kB/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], Number(match[2]) * 1024]),
  ) as Record<string, number>;
  const disks = df.stdout
    .toString('utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 6 && /^\d+$/.test(fields[1] as string))
    .map((fields) => ({
      filesystem: fields[0] as string,
      mount: fields.slice(5).join(' '),
      size_bytes: Number(fields[1]) * 1024,
      used_bytes: Number(fields[2]) * 1024,
      available_bytes: Number(fields[3]) * 1024,
    }));
  return {
    hostname,
    kernel,
    uptime_seconds: Number(proc.uptime.toString('utf8').split(/\s+/)[0]),
    load,
    memory: { total_bytes: memory.MemTotal ?? 0, available_bytes: memory.MemAvailable ?? memory.MemFree ?? 0 },
    disks,
  };
}

export interface JournalEntry {
  readonly time: string;
  readonly unit: string | null;
  readonly priority: number | null;
  readonly message: string;
}

/** "15m" → ["--since=-15min"], a span back from now; an ISO time → its UTC time, which journalctl is told to read as UTC. */
function journalSince(since: string): string[] {
  const span = /^(\d+)([smhd])$/.exec(since);
  if (span) return [`--since=-${span[1]}${{ s: 's', m: 'min', h: 'h', d: 'd' }[span[2] as 's' | 'm' | 'h' | 'd']}`];
  return [`--since=${new Date(since).toISOString().replace('T', ' ').slice(0, 19)}`, '--utc'];
}

export async function journalRead(host: Host, args: OpArgs<'journal.read'>): Promise<{ entries: JournalEntry[] }> {
  const argv = ['journalctl', '--no-pager', '--output=json', `--lines=${args.lines}`];
  if (args.unit) argv.push(`--unit=${args.unit}`);
  if (args.since) argv.push(...journalSince(args.since));
  const result = await run(host, argv);
  const entries = result.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const micros = Number(entry.__REALTIME_TIMESTAMP ?? 0);
      const message = Array.isArray(entry.MESSAGE) ? Buffer.from(entry.MESSAGE as number[]).toString('utf8') : String(entry.MESSAGE ?? '');
      return {
        time: new Date(micros / 1000).toISOString(),
        unit: typeof entry._SYSTEMD_UNIT === 'string' ? entry._SYSTEMD_UNIT : typeof entry.SYSLOG_IDENTIFIER === 'string' ? entry.SYSLOG_IDENTIFIER : null,
        priority: entry.PRIORITY === undefined ? null : Number(entry.PRIORITY),
        message,
      };
    });
  return { entries };
}

export interface CronEntry {
  readonly schedule: string;
  readonly command: string;
}

/** Parses crontab text: `@daily cmd`, or five time fields then the command; comments and variables are skipped. */
export function parseCrontab(text: string): CronEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line))
    .map((line) => {
      const fields = line.split(/\s+/);
      const count = fields[0]?.startsWith('@') ? 1 : 5;
      return { schedule: fields.slice(0, count).join(' '), command: fields.slice(count).join(' ') };
    })
    .filter((entry) => entry.command !== '');
}

export async function cronList(host: Host, args: OpArgs<'cron.list'>): Promise<{ user: string | null; entries: CronEntry[] }> {
  const result = await run(host, ['crontab', '-l', ...(args.user ? ['-u', args.user] : [])], { okCodes: [1] });
  // crontab -l exits 1 with "no crontab for …" when the user has none: an empty list, not a failure.
  if (result.exitCode === 1 && !/no crontab/i.test(result.output.toString('utf8'))) {
    throw new AirlockError('operation_failed', `crontab failed: ${result.output.toString('utf8').trim().slice(0, 500)}`, { status: 502 });
  }
  return { user: args.user ?? null, entries: result.exitCode === 0 ? parseCrontab(result.stdout.toString('utf8')) : [] };
}
