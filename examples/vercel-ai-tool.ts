/**
 * A Vercel AI SDK tool whose every call goes through Airlock. The AI SDK is not a dependency of
 * Airlock: the shapes it documents for `tool()` are typed here, so this file works the same when you
 * pass the object to `tool()` from 'ai' and hand it to `generateText({ tools })`:
 *
 *   import { generateText, jsonSchema, tool } from 'ai';
 *   const { text } = await generateText({ model, tools: { diskUsage: tool(diskUsageTool) }, prompt: '…' });
 *
 * Run the tool alone against a local server (as the SDK would call it):
 *   AIRLOCK_API_KEY=alk_… npx tsx examples/vercel-ai-tool.ts /var/log
 */
import { pathToFileURL } from 'node:url';
import { AirlockClient, AirlockClientError, type ExecuteResponse } from 'airlock/client';

/** The second argument the AI SDK passes to a tool's execute (ai v5 ToolCallOptions). */
interface ToolCallOptions {
  readonly toolCallId: string;
  readonly messages: readonly unknown[];
  readonly abortSignal?: AbortSignal;
}

/** A tool as `tool()` takes it: a description, a schema of its input, and execute. */
interface AiSdkTool<Input, Output> {
  readonly description: string;
  /** A zod schema or `jsonSchema({...})` from 'ai'; a plain JSON Schema object here. */
  readonly inputSchema: unknown;
  readonly execute: (input: Input, options: ToolCallOptions) => Promise<Output>;
}

const airlock = new AirlockClient({ url: process.env.AIRLOCK_URL ?? 'http://127.0.0.1:5002', apiKey: process.env.AIRLOCK_API_KEY, workerId: 'vercel-ai-agent' });

/** What the model gets back: the output, or why it did not run (so it can explain, or ask differently). */
type DiskUsage = { readonly ok: true; readonly usage: string } | { readonly ok: false; readonly error: string };

const gatedDiskUsage = airlock.gate((result: ExecuteResponse): DiskUsage => (result.success ? { ok: true, usage: result.stdout.trim() } : { ok: false, error: result.stderr.trim() || `exit code ${result.exit_code}` }), {
  environment: 'dev',
  // The SDK's abortSignal cancels the wait for a decision when the generation is stopped.
  describe: (input: { path: string }, options: ToolCallOptions) => ({
    argv: ['du', '-sh', input.path],
    task_name: `disk usage of ${input.path} (tool call ${options.toolCallId})`,
    signal: options.abortSignal,
  }),
});

export const diskUsageTool: AiSdkTool<{ path: string }, DiskUsage> = {
  description: 'Disk usage of a file or folder on the server, through the Airlock approval gate.',
  inputSchema: { type: 'object', properties: { path: { type: 'string', description: 'an absolute or relative path' } }, required: ['path'], additionalProperties: false },
  execute: async (input, options) => {
    try {
      return await gatedDiskUsage(input, options);
    } catch (error) {
      // Rejected, expired, refused by policy: tell the model rather than fail the whole generation.
      if (error instanceof AirlockClientError) return { ok: false, error: `${error.code}: ${error.message}` };
      throw error;
    }
  },
};

// Run directly (not imported): call the tool once, as the SDK would.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await diskUsageTool.execute({ path: process.argv[2] ?? '.' }, { toolCallId: 'call-1', messages: [] })));
}
