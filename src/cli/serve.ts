import type { Command } from 'commander';
import { createLogger } from '../http/logger.js';
import { messageOf } from '../errors.js';
import { startServer } from '../http/server.js';
import { validateConfig } from './config.js';
import { configFromFlags, withConfigOptions, withServerOptions, type ConfigFlags } from './options.js';

export function registerServe(program: Command): void {
  withServerOptions(withConfigOptions(program.command('serve')))
    .description('run the Airlock server (creates the data directory, keys and schema on first start)')
    .option('--validate-only', 'check the configuration like `airlock config validate` and exit')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock serve\n  airlock serve --port 8080 --database-url postgres://airlock@127.0.0.1/airlock\n  airlock serve --instance-id canary --validate-only',
    )
    .action(async (flags: ConfigFlags & { validateOnly?: boolean }) => {
      if (flags.validateOnly) {
        process.exitCode = await validateConfig(flags, false);
        return;
      }
      const config = configFromFlags(flags);
      const logger = createLogger(config.log.level);
      const server = await startServer(config, logger);
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting at once');
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down: finishing requests in flight');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      // SIGHUP reloads targets.yaml, as `systemctl reload` expects; an invalid file keeps the old registry.
      process.on('SIGHUP', () => {
        server.runtime.targets.reload(server.runtime.audit, 'system:sighup').then(
          (state) => logger.info({ file: state.source, sha256: state.sha256, targets: state.targets.length }, 'targets reloaded'),
          (error: unknown) => logger.error({ error: messageOf(error) }, 'targets.yaml was not reloaded: the previous registry stays in force'),
        );
      });
    });
}
