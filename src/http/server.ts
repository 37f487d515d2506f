import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { messageOf } from '../errors.js';
import { bootstrapAdmin } from '../identity/index.js';
import { allowlistProblems } from '../notify/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { VERSION } from '../version.js';
import { buildApp, type App } from './app.js';

export interface RunningServer {
  readonly url: string;
  readonly app: App;
  readonly runtime: Runtime;
  /** Stops taking requests, finishes those in flight, records the stop, signs the head, closes the store. */
  close(): Promise<void>;
}

/** Opens the runtime, listens, and records the start in the audit chain. */
export async function startServer(config: ResolvedConfig, logger: Logger): Promise<RunningServer> {
  const runtime = await openRuntime(config, logger);
  // The first admin exists from the first start; a generated password is shown once, on the terminal
  // only (never through the logger, so it never reaches log files).
  const admin = await bootstrapAdmin(runtime.users, config.auth, `system:${config.instanceId ?? 'airlock'}`).catch(async (error: unknown) => {
    await runtime.close();
    throw error;
  });
  if (admin.generatedPassword) {
    process.stderr.write(`airlock: created the admin user "${admin.username}" with the password ${admin.generatedPassword} (shown only now; change it with \`airlock users reset-password ${admin.username}\`)\n`);
  }
  const interrupted = await runtime.gateway.recoverInterrupted();
  if (interrupted > 0) logger.warn({ interrupted }, 'executions left running by this instance were marked interrupted');
  // Events first: the outbox is drained (deliveries left by a crash go out) before requests arrive.
  await runtime.events.start();
  if (runtime.telegram) {
    // Polling (or the webhook's setup) goes on in the background: Telegram being away never stops the gate.
    runtime.telegram.start();
    const { problems, notes } = await allowlistProblems(runtime.store, config.telegram.chats).catch((error: unknown) => ({ problems: [`telegram.chats: cannot check the users (${messageOf(error)})`], notes: [] }));
    for (const problem of [...problems, ...notes]) logger.warn(problem);
  }
  let draining = false;
  const app = buildApp(runtime, { isDraining: () => draining });
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  const actor = `system:${config.instanceId ?? 'airlock'}`;
  await runtime.audit.record({ actor, action: 'server.started', data: { version: VERSION, url, pid: process.pid } });

  const checkpointTimer = setInterval(() => {
    runtime.audit.checkpoint().catch((error: unknown) => logger.warn({ error: messageOf(error) }, 'audit checkpoint failed'));
  }, config.audit.checkpointIntervalSeconds * 1000);
  checkpointTimer.unref();
  // Requests nobody decided in time are expired (and audited) even if nobody asks about them.
  const expiryTimer = setInterval(() => {
    runtime.approvals.expireDue().catch((error: unknown) => logger.warn({ error: messageOf(error) }, 'expiring approvals failed'));
  }, 5000);
  expiryTimer.unref();

  // Deleted workspaces past their retention are removed (and audited) on a timer.
  runtime.workspaces.startPurgeLoop(`system:${config.instanceId ?? 'airlock'}`);

  // targets.yaml is reloaded when it changes; a broken edit is logged and the registry stays as it was.
  runtime.targets.watchFile(runtime.audit, (error: unknown) => logger.error({ error: messageOf(error) }, 'targets.yaml was not reloaded'));

  logger.info({ url, version: VERSION, store: runtime.store.description, instance: config.instanceId }, 'airlock listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      clearInterval(checkpointTimer);
      clearInterval(expiryTimer);
      runtime.targets.close();
      await app.close();
      await runtime.telegram?.stop();
      try {
        await runtime.audit.record({ actor, action: 'server.stopped', data: { pid: process.pid } });
        await runtime.audit.checkpoint();
      } catch (error) {
        logger.error({ error: messageOf(error) }, 'could not record the stop in the audit chain');
      }
      await runtime.close();
      logger.info('airlock stopped');
    })());

  return { url, app, runtime, close };
}
