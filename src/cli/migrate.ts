import type { Command } from 'commander';
import { describeStore } from '../config/index.js';
import { openConfiguredStore } from '../runtime.js';
import { migrate } from '../store/index.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';

export function registerMigrate(program: Command): void {
  withConfigOptions(program.command('migrate'))
    .description('bring the database schema up to date (the server also does this on every start)')
    .addHelpText('after', '\nExamples:\n  airlock migrate\n  airlock migrate --database-url postgres://airlock@127.0.0.1/airlock')
    .action(async (flags: ConfigFlags) => {
      const config = configFromFlags(flags);
      const store = await openConfiguredStore(config, 1);
      try {
        const report = await migrate(store);
        print(`${describeStore(config)}: ${report.applied.length === 0 ? 'up to date' : `applied ${report.applied.join(', ')}`} (${report.total} migration(s) known)`);
      } finally {
        await store.close();
      }
    });
}
