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
