/**
 * A model's tool-call loop (OpenAI Chat Completions style; the Anthropic Messages form is at the end)
 * where every tool runs through Airlock. Neither provider's SDK is needed: the documented wire shapes
 * are typed here. With OPENAI_API_KEY set it talks to OpenAI; without, a scripted stand-in model plays
 * the part, so the loop runs against a local Airlock alone:
 *
 *   AIRLOCK_API_KEY=alk_… npx tsx examples/tool-call-loop.ts "How much space does /var/log take?"
 *
 * A refusal (a person rejected it, it expired, the policy denied it) becomes the tool's result, marked
 * as an error, so the model can tell the user or try something else; nothing ran in that case.
 */
import { AirlockClient, AirlockClientError, AirlockRejectedError, type ExecuteResponse } from 'airlock/client';

// ── the wire shapes (OpenAI Chat Completions) ───────────────────────────────────────────────────
interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}
type Message =
  | { readonly role: 'system' | 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string | null; readonly tool_calls?: readonly ToolCall[] }
  | { readonly role: 'tool'; readonly tool_call_id: string; readonly content: string };
interface ToolDefinition {
  readonly type: 'function';
  readonly function: { readonly name: string; readonly description: string; readonly parameters: Record<string, unknown> };
}
type ModelReply = Extract<Message, { role: 'assistant' }>;
/** One step of a model: the conversation and the tools in, its reply out. */
type ChatModel = (messages: readonly Message[], tools: readonly ToolDefinition[]) => Promise<ModelReply>;

// ── the tools, each behind the gate ─────────────────────────────────────────────────────────────
const airlock = new AirlockClient({ url: process.env.AIRLOCK_URL ?? 'http://127.0.0.1:5002', apiKey: process.env.AIRLOCK_API_KEY, workerId: 'tool-call-loop' });
const environment = process.env.AIRLOCK_ENV ?? 'dev';
const text = (result: ExecuteResponse): string => (result.success ? result.stdout : `exit code ${result.exit_code}: ${result.stderr || result.error || ''}`.trim());

const tools = {
  disk_usage: {
    description: 'Disk usage of a file or folder (du -sh).',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
    run: airlock.gate(text, { environment, describe: (args: { path: string }) => ({ argv: ['du', '-sh', args.path] }) }),
  },
  restart_service: {
    description: 'Restart a systemd service. A person must approve it.',
    parameters: { type: 'object', properties: { name: { type: 'string' }, why: { type: 'string' } }, required: ['name', 'why'] },
    run: airlock.gate(text, {
      environment,
      timeoutMs: 5 * 60_000,
      describe: (args: { name: string; why: string }) => ({ argv: ['systemctl', 'restart', args.name], task_name: `restart ${args.name}`, instruction: args.why }),
    }),
  },
} as const;
type ToolName = keyof typeof tools;

const definitions: ToolDefinition[] = Object.entries(tools).map(([name, tool]) => ({ type: 'function', function: { name, description: tool.description, parameters: tool.parameters } }));

/** Runs one tool call through the gate; a refusal is the result, with isError set. */
async function callTool(name: string, input: unknown): Promise<{ content: string; isError: boolean }> {
  if (!(name in tools)) return { content: `no tool named ${name}`, isError: true };
  try {
    const run = tools[name as ToolName].run as (args: unknown) => Promise<string>;
    return { content: await run(input), isError: false };
  } catch (error) {
    if (error instanceof AirlockRejectedError) return { content: `a person rejected this: ${error.reason ?? 'no reason given'}. It did not run.`, isError: true };
    if (error instanceof AirlockClientError) return { content: `Airlock refused (${error.code}): ${error.message}. It did not run.`, isError: true };
    throw error;
  }
}

/** The loop: ask the model, run the tools it calls, give it the results, until it answers. */
export async function runAgent(model: ChatModel, prompt: string, maxTurns = 8): Promise<string> {
  const messages: Message[] = [{ role: 'system', content: 'Use the tools to answer. Every tool call needs approval.' }, { role: 'user', content: prompt }];
  for (let turn = 0; turn < maxTurns; turn++) {
    const reply = await model(messages, definitions);
    messages.push(reply);
    if (!reply.tool_calls?.length) return reply.content ?? '';
    for (const call of reply.tool_calls) {
      const result = await callTool(call.function.name, JSON.parse(call.function.arguments));
      messages.push({ role: 'tool', tool_call_id: call.id, content: result.isError ? `ERROR: ${result.content}` : result.content });
    }
  }
  throw new Error(`no answer after ${maxTurns} turns`);
}

// ── models ──────────────────────────────────────────────────────────────────────────────────────
/** OpenAI's Chat Completions API over fetch. */
export function openAiModel(apiKey: string, model = 'gpt-4o-mini'): ChatModel {
  return async (messages, toolDefinitions) => {
    const response = await fetch('https://api.openai.com/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, tools: toolDefinitions }),
    });
    if (!response.ok) throw new Error(`OpenAI answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as { choices: Array<{ message: ModelReply }> };
    return body.choices[0]?.message ?? { role: 'assistant', content: '' };
  };
}

/** A stand-in model: asks for the disk usage of the path in the prompt, then reports the tool's answer. */
export function scriptedModel(path: string): ChatModel {
  return async (messages) => {
    const last = messages.at(-1);
    if (last?.role === 'tool') return { role: 'assistant', content: `The tool says: ${last.content.trim()}` };
    return { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'disk_usage', arguments: JSON.stringify({ path }) } }] };
  };
}

// ── the Anthropic Messages form of the same step ────────────────────────────────────────────────
interface ToolUseBlock {
  readonly type: 'tool_use';
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}
interface ToolResultBlock {
  readonly type: 'tool_result';
  readonly tool_use_id: string;
  readonly content: string;
  readonly is_error?: boolean;
}

/** The `tool_result` blocks of the next user message, for the `tool_use` blocks of a model reply. */
export async function anthropicToolResults(content: ReadonlyArray<{ readonly type: string }>): Promise<ToolResultBlock[]> {
  const uses = content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  return Promise.all(
    uses.map(async (use) => {
      const result = await callTool(use.name, use.input);
      return { type: 'tool_result' as const, tool_use_id: use.id, content: result.content, ...(result.isError ? { is_error: true } : {}) };
    }),
  );
}

const prompt = process.argv[2] ?? 'How much space does /tmp take?';
// The stand-in model asks about the first absolute path in the prompt.
const path = prompt.split(/\s+/).find((word) => word.startsWith('/'))?.replace(/[?!,;:]+$/, '') ?? '.';
const model = process.env.OPENAI_API_KEY ? openAiModel(process.env.OPENAI_API_KEY) : scriptedModel(path);
console.log(await runAgent(model, prompt));
