import type { Command } from 'commander';
import { withJson } from './json-doc.js';
import { withConfigOptions, withServerOptions, type ConfigFlags, type ServerFlags } from './options.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  withJson(withServerOptions(withConfigOptions(config.command('validate'))), {
    shape: 'object',
    fields: ['valid', 'problems'],
    optional: ['notes', 'configFile', 'policyFile', 'settings', 'paths', 'database'],
    note: 'a configuration that does not load gives only valid and problems',
  }, 'print the result as JSON')
    .description('load every setting, print them resolved (secrets masked) and check the database; exit 2 listing every problem')
    .addHelpText('after', '\nExamples:\n  airlock config validate\n  AIRLOCK_PORT=8080 airlock config validate --instance-id canary --json')
    .action(async (flags: ConfigFlags & ServerFlags & { json?: boolean }) => {
      const { validateConfig } = await import('./config-check.js');
      process.exitCode = await validateConfig(flags, Boolean(flags.json));
    });
}
