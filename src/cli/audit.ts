import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import type { AuditEvent } from '../audit/index.js';
import { withJson } from './json-doc.js';
import { configFromFlags, wholeNumber, withConfigOptions, type ConfigFlags } from './options.js';
import { color, ExitCode, print, printJson, withSpinner, write } from './output.js';

const EVENT_FIELDS = ['seq', 'id', 'time', 'actor', 'action', 'subject_type', 'subject_id', 'environment', 'target', 'data', 'prev_hash', 'hash'];

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify, export and follow the audit chain');

  withJson(withConfigOptions(audit.command('verify')), {
    shape: 'object',
    fields: ['ok', 'count', 'headSeq', 'headHash', 'checkpoints', 'durationMs', 'parallelism', 'keys'],
    optional: ['problem'],
    note: 'problem ({seq, reason}) names the first bad event when ok is false',
  }, 'print the report as JSON')
    .description('check every link, hash and checkpoint signature; exit 1 naming the first bad seq')
    .option('--public-key <file...>', 'also trust these public keys (PEM) for checkpoints, e.g. of other instances (besides the configured key, the retired keys in <keys dir>/retired/ and the keys the chain\'s own rotations introduce)')
    .option('--threads <count>', 'check this many ranges of the chain side by side (default: the cores, for chains of 100,000 events or more)', wholeNumber(1))
    .addHelpText('after', '\nExamples:\n  airlock audit verify\n  airlock audit verify --database-url postgres://airlock@db/airlock --public-key audit-ed25519.pub.pem')
    .action(async (flags: ConfigFlags & { publicKey?: string[]; threads?: number; json?: boolean }) => {
      const config = await configFromFlags(flags);
      const { verifyConfiguredChain } = await import('./audit-verify.js');
      const report = await withSpinner('verifying the audit chain', (update) =>
        verifyConfiguredChain(config, {
          ...(flags.publicKey ? { publicKeys: flags.publicKey } : {}),
          ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          ...(update ? { onProgress: (checked: number, total: number) => update(`verifying the audit chain: ${checked.toLocaleString('en')} of ${total.toLocaleString('en')} events`) } : {}),
        }),
      );
      if (flags.json) {
        printJson(report);
      } else if (report.ok) {
        const rate = report.durationMs > 0 ? Math.round(report.count / (report.durationMs / 1000)) : report.count;
        print(`audit chain ${color.green('OK')}: ${report.count} events, head ${report.headSeq} ${report.headHash}`);
        const threads = report.parallelism > 1 ? `, ${report.parallelism} threads` : '';
        print(`${report.checkpoints} signed checkpoint(s) verified in ${(report.durationMs / 1000).toFixed(3)} s (${rate.toLocaleString('en')} events/s${threads})`);
        for (const key of report.keys.filter((entry) => entry.source === 'rotation')) {
          print(`key ${key.key_id} introduced at seq ${key.from_seq}, vouched for by ${key.vouched_by}`);
        }
      } else {
        print(`audit chain ${color.red('BROKEN')} at seq ${report.problem?.seq}: ${report.problem?.reason}`);
        print(`${report.count} events verified before it; head ${report.headSeq}`);
      }
      process.exitCode = report.ok ? ExitCode.Ok : ExitCode.Failed;
    });

  withConfigOptions(audit.command('export'))
    .description('write the audit events as JSON lines')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl']).default('jsonl'))
    .option('--since <seq>', 'only events after this sequence number', wholeNumber(0), 0)
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addHelpText('after', `\nThe output is JSON already: one event per line with ${EVENT_FIELDS.join(', ')}.\n\nExamples:\n  airlock audit export --format jsonl > audit.jsonl\n  airlock audit export --since 1000 --output since-1000.jsonl`)
    .action(async (flags: ConfigFlags & { since: number; output?: string }) => {
      const config = await configFromFlags(flags);
      const [{ eventJson, readEvents }, { withAuditStore }] = await Promise.all([import('../audit/index.js'), import('./audit-verify.js')]);
      const out = flags.output ? createWriteStream(flags.output, { mode: 0o600 }) : undefined;
      const emit = async (text: string): Promise<void> => {
        if (!out) return write(text);
        if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
      };
      await withAuditStore(config, async (store) => {
        for await (const page of readEvents(store, { afterSeq: flags.since, pageSize: 5000 })) {
          await emit(page.map((event) => `${eventJson(event)}\n`).join(''));
        }
      });
      if (out) {
        out.end();
        await finished(out);
      }
    });

  withJson(withConfigOptions(audit.command('tail')), { shape: 'lines', fields: EVENT_FIELDS, note: 'data is the event\'s data as JSON' }, 'print JSON lines')
    .description('print the newest audit events; --follow keeps printing new ones')
    .option('-n, --lines <count>', 'how many events to print first', wholeNumber(0), 20)
    .option('-f, --follow', 'keep printing events as they are appended (Ctrl-C to stop)')
    .addHelpText('after', '\nExamples:\n  airlock audit tail -n 50\n  airlock audit tail --follow --json | jq .action')
    .action(async (flags: ConfigFlags & { lines: number; follow?: boolean; json?: boolean }) => {
      const config = await configFromFlags(flags);
      const [{ eventJson, latestEvents, readEvents }, { withAuditStore }] = await Promise.all([import('../audit/index.js'), import('./audit-verify.js')]);
      const format = flags.json ? eventJson : humanLine;
      await withAuditStore(config, async (store) => {
        let last = 0;
        const show = (events: AuditEvent[]): void => {
          for (const event of events) print(format(event));
          last = events[events.length - 1]?.seq ?? last;
        };
        const latest = await latestEvents(store, flags.lines);
        show(latest);
        if (latest.length === 0) last = (await store.db.selectFrom('audit_head').select('seq').executeTakeFirst())?.seq ?? 0;
        while (flags.follow) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          for await (const page of readEvents(store, { afterSeq: last, pageSize: 1000 })) show(page);
        }
      });
    });
}

function humanLine(event: AuditEvent): string {
  const subject = event.subject_type ? ` ${event.subject_type}:${event.subject_id ?? ''}` : '';
  const where = [event.environment && `env=${event.environment}`, event.target && `target=${event.target}`].filter(Boolean).join(' ');
  return `${color.dim(String(event.seq).padStart(8))}  ${event.time}  ${event.actor}  ${color.bold(event.action)}${subject}${where ? `  ${where}` : ''}  ${event.data}`;
}
