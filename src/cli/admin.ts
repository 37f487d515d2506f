import { userInfo } from 'node:os';
import type { ResolvedConfig } from '../config/index.js';
import { createLogger } from '../http/logger.js';
import { openRuntime, type Runtime } from '../runtime.js';

/** Admin commands act on the store of this machine directly, as the local operator. */
export async function withRuntime<T>(config: ResolvedConfig, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config, createLogger('silent'));
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
