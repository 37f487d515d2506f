import type { Command } from 'commander';
import type { Finding } from './doctor/run.js';
import { withJson } from './json-doc.js';
import { withConfigOptions, type ConfigFlags } from './options.js';
import { color, ExitCode, print, printJson, withSpinner } from './output.js';

const STATUS_STYLE: Record<Finding['status'], (text: string) => string> = {
  ok: color.green,
  warn: color.yellow,
  fail: color.red,
  skip: color.dim,
};

export function registerDoctor(program: Command): void {
  withJson(withConfigOptions(program.command('doctor')), {
    shape: 'object',
    fields: ['ok', 'findings'],
    note: 'ok is false when any finding failed; each finding has check, status (ok, warn, fail or skip), message and, for warn and fail, fix',
  })
    .description('check the whole local setup: configuration, store and schema, clock, key files, targets, Telegram, Redis and the audit chain; exit 1 if anything fails')
    .addHelpText(
      'after',
      '\nEach finding says ok, warn, fail or skip, and how to fix what is wrong. Nothing is changed: a\nmissing database or key is reported, not created.\n\nExamples:\n  airlock doctor\n  airlock doctor --database-url postgres://airlock@db/airlock --json | jq \'.findings[] | select(.status != "ok")\'',
    )
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const { runDoctor } = await import('./doctor/run.js');
      const findings = await withSpinner('checking the setup', () => runDoctor(flags));
      const failed = findings.some((finding) => finding.status === 'fail');
      process.exitCode = failed ? ExitCode.Failed : ExitCode.Ok;
      if (flags.json) return printJson({ ok: !failed, findings });
      const width = Math.max(...findings.map((finding) => finding.check.length));
      for (const finding of findings) {
        print(`${STATUS_STYLE[finding.status](finding.status.padEnd(4))}  ${finding.check.padEnd(width)}  ${finding.message}`);
        if (finding.fix) print(`${' '.repeat(width + 8)}${color.dim('fix:')} ${finding.fix}`);
      }
      const count = (status: Finding['status']): number => findings.filter((finding) => finding.status === status).length;
      print(`${count('ok')} ok, ${count('warn')} warning(s), ${count('fail')} failure(s), ${count('skip')} skipped`);
    });
}
