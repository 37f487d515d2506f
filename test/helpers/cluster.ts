import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, cleanEnv, runCli } from './cli.js';
import { spawnServer, type ServerProcess } from './process.js';
import { tmpDir } from './tmp.js';

export type Role = 'all' | 'api' | 'gateway';

/** A port free right now, for instances that must know each other's address before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * One deployment of several `airlock serve` processes on one database: every instance gets its own
 * instance id (data, state and log paths), and the settings given here (the keys folder among them).
 */
export class Cluster {
  readonly dir = tmpDir();
  readonly instances: ServerProcess[] = [];

  constructor(
    readonly databaseUrl: string,
    /** Settings every instance shares, as AIRLOCK_* variables. */
    readonly shared: Record<string, string> = {},
  ) {}

  /** The environment of one instance: the shared settings, then its own. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      AIRLOCK_DATABASE_URL: this.databaseUrl,
      AIRLOCK_DATA_DIR: join(this.dir, 'data'),
      AIRLOCK_SECRET_KEY: 'cluster-secret-key-0123456789-abcdefghij',
      AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'Tangerine-Lighthouse-Quarry-93!',
      AIRLOCK_LOG_LEVEL: 'info',
      ...this.shared,
      ...extra,
    };
  }

  async start(role: Role, name: string, extra: Record<string, string> = {}, port = 0): Promise<ServerProcess> {
    const instance = await spawnServer(process.execPath, [CLI, 'serve', '--role', role, '--instance-id', name, '--port', String(port)], {
      cwd: this.dir,
      env: cleanEnv(this.env(extra)),
    });
    this.instances.push(instance);
    return instance;
  }

  /** `airlock ARGS` against the cluster's store, e.g. to create API keys. */
  cli(args: readonly string[], extra: Record<string, string> = {}) {
    return runCli(args, { cwd: this.dir, env: this.env(extra) });
  }

  /** Creates an API key and returns it. */
  async key(name: string, scopes: string, extra: Record<string, string> = {}): Promise<string> {
    const created = await this.cli(['keys', 'create', '--name', name, '--scope', scopes, '--json'], extra);
    if (created.code !== 0) throw new Error(`keys create failed: ${created.stderr}`);
    return (JSON.parse(created.stdout) as { key: string }).key;
  }

  /** Stops every instance (SIGTERM, so each records its stop) and waits for them. */
  async stop(): Promise<void> {
    await Promise.all(
      this.instances.splice(0).map((instance) => {
        instance.signal('SIGTERM');
        return instance.exited;
      }),
    );
  }
}
