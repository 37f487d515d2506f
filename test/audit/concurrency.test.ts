import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPublicKeys, verifyChain } from '../../src/audit/index.js';
import { createLogger } from '../../src/http/logger.js';
import { openRuntime } from '../../src/runtime.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { cleanEnv } from '../helpers/cli.js';
import { testConfig } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

const WORKER = fileURLToPath(new URL('../fixtures/append-worker.mjs', import.meta.url));
const PROCESSES = 4;
const EVENTS_EACH = 500;

function runWorker(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, ...args], { env: cleanEnv() });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe.each(storeKinds())('concurrent appends on %s', (kind) => {
  it(`${PROCESSES} processes appending ${EVENTS_EACH} events each leave one unbroken chain`, async () => {
    const database = await createDatabase(kind);
    const dataDir = join(tmpDir(), 'data');
    const config = testConfig({ dataDir, database: { url: database.url } });
    const runtime = await openRuntime(config, createLogger('silent'));

    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, worker) => runWorker([dataDir, database.url, `worker-${worker}`, String(EVENTS_EACH)])),
    );
    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 });

    const report = await verifyChain(runtime.store, loadPublicKeys([config.paths.auditPublicKeyFile]));
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, count: PROCESSES * EVENTS_EACH, headSeq: PROCESSES * EVENTS_EACH, checkpoints: 20 });

    const rows = await runtime.store.db.selectFrom('audit_events').select(['seq', 'actor', 'data']).orderBy('seq').execute();
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: PROCESSES * EVENTS_EACH }, (_, i) => i + 1));
    for (let worker = 0; worker < PROCESSES; worker++) {
      // Each worker's events are all there, in the order that worker appended them.
      const indexes = rows.filter((row) => row.actor === `worker-${worker}`).map((row) => (JSON.parse(row.data) as { index: number }).index);
      expect(indexes).toEqual(Array.from({ length: EVENTS_EACH }, (_, i) => i));
    }
    await runtime.close();
  });
});
