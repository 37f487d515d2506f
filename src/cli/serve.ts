import type { Command } from 'commander';
import { isAirlockError, messageOf } from '../errors.js';
import { configFromFlags, withConfigOptions, withServerOptions, type ConfigFlags, type ServerFlags } from './options.js';

export function registerServe(program: Command): void {
  withServerOptions(withConfigOptions(program.command('serve')))
    .description('run the Airlock server (creates the data directory, keys and schema on first start)')
    .option('--validate-only', 'check the configuration like `airlock config validate` and exit')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock serve\n  airlock serve --port 8080 --database-url postgres://airlock@127.0.0.1/airlock\n  airlock serve --role api --keys-dir /etc/airlock/keys --database-url postgres://…\n  airlock serve --role gateway --segment production-a --instance-id gw-a  (AIRLOCK_JWKS_URL=http://api:5002/.well-known/jwks.json)\n  airlock serve --instance-id canary --validate-only',
    )
    .action(async (flags: ConfigFlags & ServerFlags & { validateOnly?: boolean }) => {
      if (flags.validateOnly) {
        const { validateConfig } = await import('./config-check.js');
        process.exitCode = await validateConfig(flags, false);
        return;
      }
      const config = await configFromFlags(flags, flags);
      const [{ createLogger }, { reloadView }, { startGatewayServer, startServer }] = await Promise.all([
        import('../http/logger.js'),
        import('../reload/index.js'),
        import('../http/server.js'),
      ]);
      const logger = createLogger(config.log.level);
      const server = config.role === 'gateway' ? await startGatewayServer(config, logger) : await startServer(config, logger);
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
      // SIGHUP reloads targets.yaml and policy.yaml together, as `systemctl reload` expects; if either
      // is invalid, neither changes.
      process.on('SIGHUP', () => {
        server.runtime.reloader.reload('system:sighup', 'sighup').then(
          (outcome) => logger.info(reloadView(outcome), 'policy and targets reloaded'),
          (error: unknown) =>
            logger.error(
              { error: messageOf(error), error_code: isAirlockError(error) ? error.code : undefined, problems: isAirlockError(error) ? error.details?.problems : undefined },
              'policy and targets were not reloaded: the previous configuration stays in force',
            ),
        );
      });
    });
}
