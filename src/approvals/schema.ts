import { z } from 'zod';
import { TypedOpSchema } from '../operations/schema.js';

export const STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'EXECUTED'] as const;
export const StatusSchema = z.enum(STATUSES);
export type ApprovalStatus = z.infer<typeof StatusSchema>;

const name = z.string().trim().min(1).max(32);

/** POST /approvals/request (the reference Wingman body) and POST /v1/approvals. */
export const ApprovalRequestBody = z.strictObject({
  worker_id: z.string().trim().min(1).max(200),
  task_name: z.string().trim().min(1).max(500),
  instruction: z.string().max(64_000).default(''),
  deployment_env: name,
  /** The command; without it (and without `op`) the instruction's `Command:` line is used. */
  command: z.string().min(1).max(8192).optional(),
  /** A typed operation instead of a command line. */
  op: TypedOpSchema.optional(),
  target: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be a target id' }).default('local'),
  /** An approved step-up challenge of the requester, for a request that touches a sensitive path. */
  challenge_id: z.string().min(1).max(100).optional(),
});
export type ApprovalRequestInput = z.infer<typeof ApprovalRequestBody>;

/** POST /v1/policy/explain: what a request would be, without making one. */
export const ExplainBody = ApprovalRequestBody.pick({ deployment_env: true, target: true, command: true, op: true, instruction: true });
export type ExplainInput = z.infer<typeof ExplainBody>;

export const ApprovalParams = z.strictObject({ id: z.string().min(1).max(100) });

export const WaitQuery = z.strictObject({
  /** Long poll: answer as soon as the request is no longer pending, or after this many seconds. */
  wait: z.coerce.number().min(0).max(60).optional(),
});

export const ListQuery = z.strictObject({
  status: StatusSchema.or(z.enum(['pending', 'approved', 'rejected', 'expired', 'executed']).transform((s) => s.toUpperCase() as z.infer<typeof StatusSchema>)).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const DecisionBody = z
  .strictObject({
    reason: z.string().trim().max(2000).optional(),
    /** The approver's current TOTP code (or a recovery code), for requests that need a step-up. */
    totp: z.string().trim().min(6).max(32).optional(),
    /** Or an approved challenge of the approver's. */
    challenge_id: z.string().min(1).max(100).optional(),
  })
  .default({});
export type DecisionInput = z.infer<typeof DecisionBody>;
