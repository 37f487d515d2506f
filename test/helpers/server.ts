import { join } from 'node:path';
import { afterAll } from 'vitest';
import { loadConfig, type RawConfig, type ResolvedConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/http/logger.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { tmpDir } from './tmp.js';

const running: RunningServer[] = [];
afterAll(async () => {
  for (const server of running.splice(0)) await server.close();
});

/** The first admin's password in test servers (set, so none is generated and printed). */
export const TEST_ADMIN_PASSWORD = 'Test-Root-Password-Strong-1';

/** A resolved configuration for tests: its own data directory, a free port, no outside variables. */
export function testConfig(settings: RawConfig = {}, env: Record<string, string> = {}): ResolvedConfig {
  const cwd = tmpDir();
  const auth = { bootstrapPassword: TEST_ADMIN_PASSWORD, ...(settings.auth as object | undefined) };
  const result = loadConfig({ flags: { dataDir: join(cwd, 'data'), server: { port: 0 }, ...settings, auth }, env, cwd });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

/** A real server on a free port, stopped when the test file ends. */
export async function startTestServer(settings: RawConfig = {}): Promise<RunningServer> {
  const server = await startServer(testConfig(settings), createLogger('silent'));
  running.push(server);
  return server;
}
