import { z } from 'zod';
import { TypedOpSchema } from '../operations/schema.js';

const exactlyOne = { error: 'give either "command" or a typed operation in "op"' };
const hasOneOperation = (body: { command?: string | undefined; op?: unknown }): boolean => (body.command === undefined) !== (body.op === undefined);

/** POST /gateway/token (reference body; `op` instead of `command` for a typed operation). */
export const MintBody = z
  .strictObject({
    approval_id: z.string().min(1).max(100),
    command: z.string().min(1).max(8192).optional(),
    op: TypedOpSchema.optional(),
    environment: z.string().min(1).max(32),
  })
  .refine(hasOneOperation, exactlyOne);

/** POST /gateway/execute (reference body): must repeat exactly what the token was minted for. */
export const ExecuteBody = z
  .strictObject({
    command: z.string().min(1).max(8192).optional(),
    op: TypedOpSchema.optional(),
    approval_id: z.string().min(1).max(100),
    environment: z.string().min(1).max(32),
  })
  .refine(hasOneOperation, exactlyOne);
export type ExecuteInput = z.infer<typeof ExecuteBody>;

export const ExecutionParams = z.strictObject({ id: z.string().min(1).max(100) });

/** The reference text for a consumed token, kept verbatim for existing clients. */
export const REPLAY_ERROR = 'Token has already been used';

/** POST /gateway/execute, /v1/execute: the reference gateway's answer, plus Airlock's receipt and details. */
export const ExecuteAnswer = z.object({
  success: z.boolean(),
  output: z.string().describe('stdout and stderr as they arrived (the reference field)'),
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z.number().int().nullable(),
  execution_id: z.string(),
  status: z.string().describe('succeeded, failed, timed_out or interrupted'),
  duration_ms: z.number(),
  truncated: z.boolean(),
  error: z.string().optional(),
  result: z.unknown().optional().describe("A typed operation's result as JSON (`output` holds the same, as text)"),
  error_code: z.string().optional().describe("A typed operation's failure, with a stable code"),
  receipt: z.string().describe('A JWS over the result, the op hash, the output sha256 and the audit position; checked against /.well-known/jwks.json'),
});

/** A token used a second time: exactly the reference gateway's answer (409). */
export const ReplayAnswer = z.strictObject({ success: z.literal(false), error: z.literal(REPLAY_ERROR) });
