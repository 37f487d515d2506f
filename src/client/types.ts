/**
 * The request and response types of the client, taken from the server's own schemas and views with
 * `import type` only: they are erased at build time, so the client carries no server code at run time
 * while its types cannot drift from what the server accepts and answers.
 */
import type { z } from 'zod';
import type { ApprovalRequestBody, DecisionBody, ExplainBody, ListQuery, StatusSchema } from '../approvals/schema.js';
import type { ApprovalView, Explanation } from '../approvals/service.js';
import type { RiskReason } from '../approvals/risk.js';
import type { Finding } from '../approvals/instruction.js';
import type { OP_ARGS, OpName } from '../operations/schema.js';
import type { MintResult } from '../tokens/service.js';
import type { ExecuteResponse, findExecution } from '../gateway/service.js';
import type { ReceiptClaims } from '../gateway/receipts.js';
import type { DomainEvent } from '../events/types.js';
import type { AuditEntry, AuditQuery } from '../audit/query.js';
import type { AuditStatus, VerificationRecord } from '../audit/status.js';
import type { AuditEventsTable } from '../store/tables.js';
import type { Incident, IncidentInput as IncidentSchema, Severity } from '../incidents/schema.js';
import type { CreateWorkspaceBody } from '../workspaces/schema.js';
import type { WorkspaceView } from '../workspaces/service.js';
import type { ChallengeView } from '../identity/challenges.js';
import type { PlanChallengeBody } from '../identity/schema.js';
import type { RequestHistory } from '../console/history.js';

export type { ApprovalView, Explanation, RiskReason, Finding, MintResult, ExecuteResponse, ReceiptClaims, DomainEvent, AuditEntry, AuditStatus, VerificationRecord };
export type { Incident, Severity, WorkspaceView, ChallengeView, RequestHistory };

export type ApprovalStatus = z.infer<typeof StatusSchema>;

/**
 * A typed operation as a client sends it: its name and its arguments (left out where none is
 * required). One member per operation, so `args` is checked against the operation named.
 */
export type TypedOperation = { [N in OpName]: { readonly name: N; readonly args?: z.input<(typeof OP_ARGS)[N]> } }[OpName];

/** What to run: a command line, or a typed operation. */
export type OperationInput = { readonly command: string; readonly op?: undefined } | { readonly op: TypedOperation; readonly command?: undefined };

type RequestBody = z.input<typeof ApprovalRequestBody>;

/**
 * POST /v1/approvals. `worker_id` defaults to the client's `workerId`; `instruction` to none and
 * `target` to `local` (as the server does).
 */
export type CreateRequestInput = Omit<RequestBody, 'worker_id' | 'op' | 'command'> & { readonly worker_id?: string } & (
    | { readonly command: string; readonly op?: undefined }
    | { readonly op: TypedOperation; readonly command?: undefined }
    // Neither: the instruction's `Command:` line is the command (the reference Wingman form).
    | { readonly command?: undefined; readonly op?: undefined }
  );

/** POST /v1/policy/explain: what a request would be; nothing is recorded. */
export type ExplainInput = Omit<z.input<typeof ExplainBody>, 'op'> & { readonly op?: TypedOperation };

/** GET /v1/approvals (the server coerces query text, so the numbers are typed here). */
export type ListRequestsQuery = Omit<z.input<typeof ListQuery>, 'limit'> & { readonly limit?: number };

/** POST /v1/approvals/{id}/approve and /reject: a reason, and for a step-up the approver's TOTP code or approved challenge. */
export type DecisionInput = NonNullable<z.input<typeof DecisionBody>>;

/** POST /v1/tokens: the request and exactly what it approved. */
export type MintInput = { readonly approval_id: string; readonly environment: string } & OperationInput;

/** POST /v1/execute: repeats exactly what the token was minted for. */
export type ExecuteInput = { readonly approval_id: string; readonly environment: string } & OperationInput;

/** GET /v1/executions/{id}: an execution as recorded, with its output and signed receipt. */
export type ExecutionRecord = Awaited<ReturnType<typeof findExecution>>;

/** GET /v1/audit/events (the server coerces query text, so the numbers are typed here). */
export type AuditEventsQuery = Omit<z.input<typeof AuditQuery>, 'before_seq' | 'limit'> & { readonly before_seq?: number; readonly limit?: number };

export interface AuditEventsPage {
  readonly events: readonly AuditEntry[];
  /** `all` with audit:read; otherwise only one's own actions and what happened to one's own requests. */
  readonly scope: 'all' | 'own';
  /** Pass as `before_seq` for the next, older page; null on the last. */
  readonly next_before_seq: number | null;
}

/** One line of GET /v1/audit/export: a row of the chain with its data parsed. */
export type ExportedAuditEvent = Omit<AuditEventsTable, 'data'> & { readonly data: unknown };

/** A line of POST /v1/audit/verify while it runs. */
export interface VerifyProgress {
  readonly checked: number;
  readonly total: number;
}

/** POST /v1/incidents (admin). */
export type IncidentInput = z.input<typeof IncidentSchema>;

/** GET /v1/incidents (audit:read). */
export interface IncidentsQuery {
  readonly since?: string;
  readonly severity?: Severity | readonly Severity[];
  readonly limit?: number;
}

/** POST /v1/workspaces */
export type CreateWorkspaceInput = z.input<typeof CreateWorkspaceBody>;

export interface ListWorkspacesQuery {
  /** Every owner's workspaces (admins only). */
  readonly all?: boolean;
  readonly status?: 'active' | 'deleted' | 'purging' | 'purged' | 'any';
}

/** POST /v1/challenges */
export type PlanChallengeInput = z.input<typeof PlanChallengeBody>;

/** GET /v1/whoami: who the server takes the client for. */
export interface WhoAmI {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly user: { readonly id: string; readonly username: string; readonly role: string };
  readonly role: string;
  readonly scopes: readonly string[];
  readonly mode: 'api_key' | 'user';
  readonly environments: readonly string[] | null;
  readonly targets: readonly string[] | null;
}

/** GET /health: 200 when healthy, 503 (with the same body) when a check fails. */
export interface HealthReport {
  readonly status: 'healthy' | 'unhealthy';
  readonly service: string;
  readonly timestamp: string;
  readonly version: string;
  readonly role?: string;
  readonly checks: Readonly<Record<string, { readonly status: string; readonly [detail: string]: unknown }>>;
}

/** GET /.well-known/jwks.json: the Ed25519 public keys of tokens and receipts. */
export interface JsonWebKeySet {
  readonly keys: readonly { readonly kty: string; readonly crv?: string; readonly x?: string; readonly kid?: string; readonly alg?: string; readonly use?: string }[];
}

/** The event types GET /v1/events publishes. */
export type EventType = 'request.created' | 'request.decided' | 'request.expired' | 'token.minted' | 'execution.started' | 'execution.finished' | 'challenge.created';
