import type { Command } from 'commander';
import { withStore } from './admin.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson } from './output.js';

export function registerMigrate(program: Command): void {
  withJson(withConfigOptions(program.command('migrate')), { shape: 'object', fields: ['database', 'applied', 'total'], note: 'applied lists the migrations this run applied (none when up to date)' })
    .description('bring the database schema up to date (the server also does this on every start)')
    .addHelpText('after', '\nExamples:\n  airlock migrate\n  airlock migrate --database-url postgres://airlock@127.0.0.1/airlock')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = await configFromFlags(flags);
      const [{ describeStore }, { migrate }] = await Promise.all([import('../config/index.js'), import('../store/index.js')]);
      const report = await withStore(config, (store) => migrate(store));
      if (flags.json) return printJson({ database: describeStore(config), applied: report.applied, total: report.total });
      print(`${describeStore(config)}: ${report.applied.length === 0 ? 'up to date' : `applied ${report.applied.join(', ')}`} (${report.total} migration(s) known)`);
    });
}
