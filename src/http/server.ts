import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { messageOf } from '../errors.js';
import { Gateway } from '../gateway/index.js';
import { bootstrapAdmin } from '../identity/index.js';
import { allowlistProblems } from '../notify/index.js';
import { openGatewayRuntime, openRuntime, type BaseRuntime, type GatewayRuntime, type Runtime } from '../runtime.js';
import { VERSION } from '../version.js';
import { buildApp, buildGatewayApp, type App } from './app.js';

export interface RunningServer<R extends BaseRuntime = Runtime> {
  readonly url: string;
  readonly app: App;
  readonly runtime: R;
  /** Stops taking requests, finishes those in flight, records the stop, signs the head, closes the store. */
  close(): Promise<void>;
}

/** What differs between roles around the common start and stop. */
interface RoleHooks {
  /** After the runtime opened, before the port opens (recovery, background work). */
  prepare(): Promise<void>;
  /** Timers and loops that run while the server serves; returns how to stop them. */
  background(): () => void;
  /** Before the stop is recorded (stop talking to the outside). */
  stopping(): Promise<void>;
}

/** Opens the runtime, listens, and records the start in the audit chain: the api or `all` role. */
export async function startServer(config: ResolvedConfig, logger: Logger): Promise<RunningServer> {
  const runtime = await openRuntime(config, logger);
  const actor = actorOf(config);
  return listen(runtime, (isDraining) => buildApp(runtime, { isDraining }), {
    async prepare() {
      // The first admin exists from the first start; a generated password is shown once, on the terminal
      // only (never through the logger, so it never reaches log files).
      const admin = await bootstrapAdmin(runtime.users, config.auth, actor);
      if (admin.generatedPassword) {
        process.stderr.write(`airlock: created the admin user "${admin.username}" with the password ${admin.generatedPassword} (shown only now; change it with \`airlock users reset-password ${admin.username}\`)\n`);
      }
      if (runtime.gateway instanceof Gateway) await recover(runtime.gateway, logger);
      // Events first: the outbox is drained (deliveries left by a crash go out) before requests arrive.
      await runtime.events.start();
      if (runtime.telegram) {
        // Polling (or the webhook's setup) goes on in the background: Telegram being away never stops the gate.
        runtime.telegram.start();
        const { problems, notes } = await allowlistProblems(runtime.store, config.telegram.chats).catch((error: unknown) => ({ problems: [`telegram.chats: cannot check the users (${messageOf(error)})`], notes: [] }));
        for (const problem of [...problems, ...notes]) logger.warn(problem);
      }
    },
    background() {
      // Requests nobody decided in time are expired (and audited) even if nobody asks about them.
      const expiryTimer = setInterval(() => {
        runtime.approvals.expireDue().catch((error: unknown) => logger.warn({ error: messageOf(error) }, 'expiring approvals failed'));
      }, 5000);
      expiryTimer.unref();
      // Deleted workspaces past their retention are removed (and audited) on a timer.
      runtime.workspaces.startPurgeLoop(actor);
      return () => clearInterval(expiryTimer);
    },
    async stopping() {
      await runtime.telegram?.stop();
    },
  });
}

/** The gateway role: verifies and executes; nothing to bootstrap, no events to deliver. */
export async function startGatewayServer(config: ResolvedConfig, logger: Logger): Promise<RunningServer<GatewayRuntime>> {
  const runtime = await openGatewayRuntime(config, logger);
  logger.info({ keys: runtime.keySource, segment: config.gateway.segment }, 'gateway trusts token keys from this source');
  return listen(runtime, (isDraining) => buildGatewayApp(runtime, { isDraining }), {
    prepare: () => recover(runtime.gateway, logger),
    background: () => () => undefined,
    stopping: async () => undefined,
  });
}

async function recover(gateway: Gateway, logger: Logger): Promise<void> {
  const interrupted = await gateway.recoverInterrupted();
  if (interrupted > 0) logger.warn({ interrupted }, 'executions left running by this instance were marked interrupted');
}

function actorOf(config: ResolvedConfig): string {
  return `system:${config.instanceId ?? 'airlock'}`;
}

async function listen<R extends BaseRuntime>(runtime: R, build: (isDraining: () => boolean) => App, hooks: RoleHooks): Promise<RunningServer<R>> {
  const { config, logger } = runtime;
  const actor = actorOf(config);
  let app: App;
  try {
    await hooks.prepare();
    let draining = false;
    app = build(() => draining);
    await app.listen({ host: config.server.host, port: config.server.port });
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    await runtime.audit.record({ actor, action: 'server.started', data: { version: VERSION, url, pid: process.pid, role: config.role, ...(config.gateway.segment && config.role !== 'api' ? { segment: config.gateway.segment } : {}) } });

    const checkpointTimer = setInterval(() => {
      runtime.audit.checkpoint().catch((error: unknown) => logger.warn({ error: messageOf(error) }, 'audit checkpoint failed'));
    }, config.audit.checkpointIntervalSeconds * 1000);
    checkpointTimer.unref();
    const stopBackground = hooks.background();
    // A change of targets.yaml reloads the configuration (targets and policy together); a broken edit is
    // logged and audited, and the configuration stays as it was.
    runtime.targets.watchFile(() => {
      runtime.reloader.reload('system:targets-watch', 'watch').catch((error: unknown) => logger.error({ error: messageOf(error) }, 'targets.yaml changed but the configuration was not reloaded'));
    });

    logger.info({ url, version: VERSION, role: config.role, store: runtime.store.description, instance: config.instanceId }, 'airlock listening');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        draining = true;
        clearInterval(checkpointTimer);
        stopBackground();
        runtime.targets.close();
        await app.close();
        await hooks.stopping();
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
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
