import { z } from 'zod';

/** POST /gateway/token (reference body). */
export const MintBody = z.strictObject({
  approval_id: z.string().min(1).max(100),
  command: z.string().min(1).max(8192),
  environment: z.string().min(1).max(32),
});

/** POST /gateway/execute (reference body): must repeat exactly what the token was minted for. */
export const ExecuteBody = z.strictObject({
  command: z.string().min(1).max(8192),
  approval_id: z.string().min(1).max(100),
  environment: z.string().min(1).max(32),
});
export type ExecuteInput = z.infer<typeof ExecuteBody>;

export const ExecutionParams = z.strictObject({ id: z.string().min(1).max(100) });
