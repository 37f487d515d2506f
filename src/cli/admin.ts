import { userInfo } from 'node:os';
import type { ResolvedConfig } from '../config/index.js';
import { createLogger } from '../http/logger.js';
import { openRuntime, type Runtime } from '../runtime.js';

/**
 * Admin commands act on the store of this machine directly, as the local operator. They open the API
 * side only: nothing they do executes, so no executor or receipt key is loaded.
 */
export async function withRuntime<T>(config: ResolvedConfig, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config.role === 'all' ? { ...config, role: 'api' } : config, createLogger('silent'));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/** The audit actor of a command run on this machine. */
export function localActor(command: string): string {
  return `cli:${command}:${userInfo().username}`;
}
