import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { startGate } from '../helpers/gate.js';

const ENTRY = join(REPO_ROOT, 'dist/client/index.js');

/** dist/client bundled for no platform in particular, as a browser, Deno or worker bundler would. */
async function bundle(format: 'esm' | 'iife') {
  const result = await build({ entryPoints: [ENTRY], bundle: true, platform: 'neutral', format, globalName: 'Airlock', write: false, metafile: true, logLevel: 'silent' });
  return { code: result.outputFiles[0]?.text ?? '', inputs: Object.keys(result.metafile.inputs), imports: Object.values(result.metafile.outputs).flatMap((output) => output.imports) };
}

describe('airlock/client carries no server code and no Node built-ins', () => {
  it('is exported as airlock/client with its types', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports).toMatchObject({ '.': './dist/index.js', './client': { types: './dist/client/index.d.ts', import: './dist/client/index.js' } });
  });

  it('bundles for the neutral platform from its own files and eventsource-parser alone', async () => {
    const { code, inputs, imports } = await bundle('esm');
    // node_modules may be a link to another folder: name a package's files from node_modules/ on.
    const sources = inputs.map((input) => (input.includes('node_modules/') ? input.slice(input.indexOf('node_modules/')) : relative(REPO_ROOT, join(process.cwd(), input))));
    const outside = sources.filter((source) => !source.startsWith('dist/client/') && source !== 'dist/common/command-line.js' && !source.startsWith('node_modules/eventsource-parser/'));
    expect(outside).toEqual([]);
    expect(sources).toContain('dist/client/transport.js');
    expect(imports).toEqual([]);
    for (const server of ['fastify', 'kysely', 'pg', 'better-sqlite3', 'zod', 'jose', 'dist/approvals', 'dist/gateway', 'dist/http']) {
      expect(sources.some((source) => source.includes(server)), server).toBe(false);
    }
    expect(code).not.toMatch(/["']node:/);
    expect(code).not.toMatch(/\brequire\(/);
    expect(code).not.toMatch(/\b(process|Buffer|global)\./);
  });

  describe('runs where only web-standard globals exist', () => {
    let gate: Awaited<ReturnType<typeof startGate>>;
    let sdk: typeof import('../../src/client/index.js');
    beforeAll(async () => {
      gate = await startGate('sqlite');
      const { code } = await bundle('iife');
      // A realm with the globals a browser, Deno or a worker has, and none of Node's (no process, Buffer, require).
      const context = createContext({
        fetch, Headers, Request, Response, ReadableStream, AbortController, AbortSignal, DOMException, TextEncoder, TextDecoder, URL, URLSearchParams,
        crypto, atob, btoa, setTimeout, clearTimeout, console,
      });
      sdk = runInContext(`${code}\nAirlock`, context) as typeof sdk;
      expect(runInContext('[typeof process, typeof Buffer, typeof require]', context)).toEqual(['undefined', 'undefined', 'undefined']);
    });

    it('gate() runs a LOW command through the whole flow, and its receipt verifies with WebCrypto', async () => {
      const client = new sdk.AirlockClient({ url: gate.url, apiKey: gate.agent });
      const hello = client.gate((result) => result, { environment: 'dev', describe: (name: string) => ({ argv: ['echo', `hello ${name}`] }) });
      const execution = await hello('neutral world');
      expect(execution).toMatchObject({ success: true, output: 'hello neutral world\n' });
      expect(await client.receipts.verify(execution.receipt, { output: execution.output })).toMatchObject({ execution_id: execution.execution_id });
    });

    it('the event stream, waits and typed errors work there too', async () => {
      const agent = new sdk.AirlockClient({ url: gate.url, apiKey: gate.agent });
      const approver = new sdk.AirlockClient({ url: gate.url, apiKey: gate.approver });
      const controller = new AbortController();
      let connected!: () => void;
      const ready = new Promise<void>((resolve) => (connected = resolve));
      const events = agent.events({ types: ['request.decided'], signal: controller.signal, onConnected: () => connected() });
      const next = events.next();
      await ready;
      const request = await agent.requests.create({ task_name: 'neutral', deployment_env: 'dev', command: 'kill -0 1' });
      const waiting = agent.waitForDecision(request.request_id);
      await approver.requests.approve(request.request_id);
      expect(await waiting).toMatchObject({ status: 'APPROVED' });
      expect((await next).value).toMatchObject({ type: 'request.decided', subject: { id: request.request_id } });
      controller.abort();
      const denied = await agent.requests.approve(request.request_id).catch((error: unknown) => error);
      expect(denied).toMatchObject({ name: 'AirlockForbiddenError', status: 403, code: 'forbidden' });
    });
  });
});
