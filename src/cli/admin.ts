import { userInfo } from 'node:os';
import type { ResolvedConfig } from '../config/index.js';
import type { Runtime } from '../runtime.js';
import type { Store } from '../store/index.js';

/**
 * Admin commands act on the store of this machine directly, as the local operator. They open the API
 * side only: nothing they do executes, so no executor or receipt key is loaded. The runtime is imported
 * here, on use, so that commands which never open it start without it.
 */
export async function withRuntime<T>(config: ResolvedConfig, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const [{ openRuntime }, { createLogger }] = await Promise.all([import('../runtime.js'), import('../http/logger.js')]);
  const runtime = await openRuntime(config.role === 'all' ? { ...config, role: 'api' } : config, createLogger('silent'));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/**
 * Opens the configured store (as the runtime does, without the rest of it) for commands that run a few
 * queries of their own, one at a time; closed after `work`.
 */
export async function withStore<T>(config: ResolvedConfig, work: (store: Store) => Promise<T>, poolSize = 1): Promise<T> {
  const { openStore } = await import('../store/index.js');
  const store = await openStore(config.store, { poolSize, connectTimeoutMs: config.database.connectTimeoutMs });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** The audit actor of a command run on this machine. */
export function localActor(command: string): string {
  return `cli:${command}:${userInfo().username}`;
}
