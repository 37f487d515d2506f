import { AirlockClientError, AirlockTimeoutError } from './errors.js';
import { gate, runOperation, type GateDescription, type GateOptions, type RunOptions, type RunResult } from './gate.js';
import { verifyReceipt, type VerifyReceiptOptions } from './receipts.js';
import { eventStream, ndjson, type EventStreamOptions } from './streams.js';
import { Transport, type CallOptions, type Credential, type FetchLike, type RetryOptions } from './transport.js';
import type {
  ApprovalView,
  AuditEventsPage,
  AuditEventsQuery,
  AuditStatus,
  ChallengeView,
  CreateRequestInput,
  CreateWorkspaceInput,
  DecisionInput,
  DomainEvent,
  ExecuteInput,
  ExecuteResponse,
  ExecutionRecord,
  Explanation,
  ExplainInput,
  ExportedAuditEvent,
  HealthReport,
  Incident,
  IncidentInput,
  IncidentsQuery,
  JsonWebKeySet,
  ListRequestsQuery,
  ListWorkspacesQuery,
  MintInput,
  MintResult,
  PlanChallengeInput,
  ReceiptClaims,
  RequestHistory,
  VerificationRecord,
  VerifyProgress,
  WhoAmI,
  WorkspaceView,
} from './types.js';

export interface AirlockClientOptions {
  /** The Airlock server (API), e.g. http://127.0.0.1:5002. */
  readonly url: string;
  /** An API key (alk_…). */
  readonly apiKey?: string | undefined;
  /** Or an access token (from POST /v1/auth/login with "tokens": true), or a function giving the current one. */
  readonly token?: Credential | undefined;
  /** The gateway that executes, when it is not the API server (split roles); default `url`. */
  readonly gatewayUrl?: string | undefined;
  /** Another fetch (default: the runtime's global fetch). */
  readonly fetch?: FetchLike | undefined;
  /** Retries of idempotent calls: a count, or the full settings; 0 turns them off. Default 2. */
  readonly retries?: number | RetryOptions | undefined;
  /** The `worker_id` of requests that do not name one; default "airlock-client". */
  readonly workerId?: string | undefined;
}

export interface WaitOptions extends CallOptions {
  /** Give up after this long with AirlockTimeoutError (the request stays pending); default: wait until decided or expired. */
  readonly timeoutMs?: number | undefined;
}

/** The longest single long poll: well under common proxy idle timeouts. */
const LONG_POLL_SECONDS = 30;

const enc = encodeURIComponent;

/**
 * A typed client of the Airlock HTTP API. Every method takes an optional AbortSignal; reads are retried
 * on network errors, 429, 502, 503 and 504 (honouring Retry-After); anything that changes state
 * (create, decide, mint, execute) is sent exactly once. Errors are AirlockApiError subclasses by status.
 */
export class AirlockClient {
  readonly url: string;
  readonly gatewayUrl: string;
  readonly workerId: string;
  private readonly transport: Transport;

  constructor(options: AirlockClientOptions) {
    if (!options || typeof options.url !== 'string' || options.url === '') throw new AirlockClientError('invalid_options', 'give the Airlock server as { url }');
    if (options.apiKey !== undefined && options.token !== undefined) throw new AirlockClientError('invalid_options', 'give either apiKey or token, not both');
    const retry = typeof options.retries === 'number' ? { retries: options.retries } : options.retries;
    this.transport = new Transport({ url: options.url, credential: options.apiKey ?? options.token, fetch: options.fetch, retry });
    this.url = this.transport.url;
    this.gatewayUrl = (options.gatewayUrl ?? this.url).replace(/\/+$/, '');
    this.workerId = options.workerId ?? 'airlock-client';
  }

  // ── who and what ──────────────────────────────────────────────────────────────────────────────

  /** GET /v1/whoami: the principal the server takes this client for. */
  whoami(options: CallOptions = {}): Promise<WhoAmI> {
    return this.transport.json({ method: 'GET', path: '/v1/whoami', idempotent: true, signal: options.signal });
  }

  /** GET /health (public): the report also when the server answers 503 unhealthy. */
  health(options: CallOptions = {}): Promise<HealthReport> {
    return this.transport.json({ method: 'GET', path: '/health', idempotent: true, anonymous: true, accept: [503], signal: options.signal });
  }

  // ── requests and decisions ───────────────────────────────────────────────────────────────────

  readonly requests = {
    /** POST /v1/approvals: ask. LOW risk is usually APPROVED at once by the policy; otherwise PENDING. */
    create: async (input: CreateRequestInput, options: CallOptions = {}): Promise<ApprovalView> => {
      const body = { ...input, worker_id: input.worker_id ?? this.workerId };
      return (await this.transport.json<{ request: ApprovalView }>({ method: 'POST', path: '/v1/approvals', body, idempotent: false, signal: options.signal })).request;
    },

    /** GET /v1/approvals/{id}; with `waitSeconds` (up to 60) a long poll that answers as soon as it is decided. */
    get: async (id: string, options: CallOptions & { readonly waitSeconds?: number } = {}): Promise<ApprovalView> => {
      const query = { wait: options.waitSeconds !== undefined && options.waitSeconds > 0 ? Math.min(60, Math.round(options.waitSeconds * 1000) / 1000) : undefined };
      return (await this.transport.json<{ request: ApprovalView }>({ method: 'GET', path: `/v1/approvals/${enc(id)}`, query, idempotent: true, signal: options.signal })).request;
    },

    /** GET /v1/approvals: newest first, optionally by status. */
    list: async (query: ListRequestsQuery = {}, options: CallOptions = {}): Promise<ApprovalView[]> =>
      (await this.transport.json<{ requests: ApprovalView[] }>({ method: 'GET', path: '/v1/approvals', query: { status: query.status, limit: query.limit }, idempotent: true, signal: options.signal }))
        .requests,

    /** GET /v1/approvals/{id}/history: the request, its instruction by section, every audit event about it, its executions. */
    history: (id: string, options: CallOptions = {}): Promise<RequestHistory> =>
      this.transport.json({ method: 'GET', path: `/v1/approvals/${enc(id)}/history`, idempotent: true, signal: options.signal }),

    /** POST /v1/approvals/{id}/approve: a HIGH or CRITICAL request needs `totp` (or an approved `challenge_id`). */
    approve: async (id: string, input: DecisionInput = {}, options: CallOptions = {}): Promise<ApprovalView> =>
      (await this.transport.json<{ request: ApprovalView }>({ method: 'POST', path: `/v1/approvals/${enc(id)}/approve`, body: input, idempotent: false, signal: options.signal })).request,

    /** POST /v1/approvals/{id}/reject, with the reason the requester will see. */
    reject: async (id: string, input: Pick<DecisionInput, 'reason'> = {}, options: CallOptions = {}): Promise<ApprovalView> =>
      (await this.transport.json<{ request: ApprovalView }>({ method: 'POST', path: `/v1/approvals/${enc(id)}/reject`, body: input, idempotent: false, signal: options.signal })).request,
  };

  /**
   * Waits until the request is no longer PENDING (approved, rejected, expired — by anyone, anywhere) with
   * long polls, and returns it as it then stands; it does not throw for a rejection. Throws
   * AirlockTimeoutError after `timeoutMs`, and the abort reason (an AbortError) when `signal` aborts.
   */
  async waitForDecision(id: string, options: WaitOptions = {}): Promise<ApprovalView> {
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    for (;;) {
      const remaining = deadline - Date.now();
      const request = await this.requests.get(id, { waitSeconds: Math.max(0.001, Math.min(LONG_POLL_SECONDS, remaining / 1000)), signal: options.signal });
      if (request.status !== 'PENDING') return request;
      if (Date.now() >= deadline) throw new AirlockTimeoutError(request, options.timeoutMs as number);
    }
  }

  // ── policy ──────────────────────────────────────────────────────────────────────────────────

  readonly policy = {
    /** POST /v1/policy/explain: the level, rules, gate and approvals a request would get. Records nothing, so it is retried like a read. */
    explain: async (input: ExplainInput, options: CallOptions = {}): Promise<Explanation> =>
      (await this.transport.json<{ explanation: Explanation }>({ method: 'POST', path: '/v1/policy/explain', body: input, idempotent: true, signal: options.signal })).explanation,

    /** GET /v1/policy: the rules in force, the built-ins and each environment resolved. */
    get: async (options: CallOptions = {}): Promise<Record<string, unknown>> =>
      (await this.transport.json<{ policy: Record<string, unknown> }>({ method: 'GET', path: '/v1/policy', idempotent: true, signal: options.signal })).policy,
  };

  // ── tokens, execution, receipts ──────────────────────────────────────────────────────────────

  readonly tokens = {
    /** POST /v1/tokens: the single-use capability token of an approved request (a decider, or the requester with gateway:execute). */
    mint: (input: MintInput, options: CallOptions = {}): Promise<MintResult> =>
      this.transport.json({ method: 'POST', path: '/v1/tokens', body: input, idempotent: false, signal: options.signal }),
  };

  /**
   * POST /v1/execute on the gateway with the capability token: runs the approved operation once. A
   * command that fails still answers (success false, its exit code); a replayed token is a 409.
   */
  execute(token: string, input: ExecuteInput, options: CallOptions = {}): Promise<ExecuteResponse> {
    return this.transport.json({
      method: 'POST',
      path: '/v1/execute',
      baseUrl: this.gatewayUrl,
      headers: { 'x-capability-token': token },
      anonymous: true,
      body: input,
      idempotent: false,
      signal: options.signal,
    });
  }

  readonly executions = {
    /** GET /v1/executions/{id}: the execution as recorded, with output and receipt. */
    get: async (id: string, options: CallOptions = {}): Promise<ExecutionRecord> =>
      (await this.transport.json<{ execution: ExecutionRecord }>({ method: 'GET', path: `/v1/executions/${enc(id)}`, idempotent: true, signal: options.signal })).execution,
  };

  readonly receipts = {
    /** The signed receipt of an execution (GET /v1/executions/{id}); null while it runs. */
    get: async (executionId: string, options: CallOptions = {}): Promise<string | null> => (await this.executions.get(executionId, options)).receipt,

    /** GET /.well-known/jwks.json of the gateway (its receipt key) or of `from`. */
    jwks: (options: CallOptions & { readonly from?: string } = {}): Promise<JsonWebKeySet> =>
      this.transport.json({ method: 'GET', path: '/.well-known/jwks.json', baseUrl: options.from ?? this.gatewayUrl, anonymous: true, idempotent: true, signal: options.signal }),

    /**
     * Verifies a receipt against the gateway's published keys (or `jwks`) with WebCrypto and returns
     * what it states; with `output`, also that it covers exactly that output. Throws AirlockReceiptError.
     */
    verify: async (receipt: string, options: CallOptions & VerifyReceiptOptions & { readonly jwks?: JsonWebKeySet } = {}): Promise<ReceiptClaims> =>
      verifyReceipt(receipt, options.jwks ?? (await this.receipts.jwks({ signal: options.signal })), options),
  };

  /**
   * Request → wait for the decision → mint → execute, as one call: what `gate()` does for each call
   * of a wrapped tool. Throws AirlockRejectedError, AirlockExpiredError or AirlockTimeoutError (nothing
   * ran), or the API error of any step.
   */
  run(description: GateDescription, options: RunOptions = {}): Promise<RunResult> {
    return runOperation(this, description, options);
  }

  /**
   * Wraps a tool so that each call goes through the gate: `describe(...args)` says what the call would
   * run; it is requested, waited for, minted and executed by the gateway, and `fn(result, ...args)`
   * turns the execution's result into the tool's return value. `fn` runs only after an approved
   * execution: a rejection, expiry, timeout or error throws instead and `fn` never runs.
   */
  // The arguments' types come from describe (NoInfer): declare them there, and fn's follow.
  gate<A extends unknown[], R>(fn: (result: ExecuteResponse, ...args: NoInfer<A>) => R | Promise<R>, options: GateOptions<A>): (...args: A) => Promise<R>;
  // An fn that needs only the result.
  gate<A extends unknown[], R>(fn: (result: ExecuteResponse) => R | Promise<R>, options: GateOptions<A>): (...args: A) => Promise<R>;
  gate<A extends unknown[], R>(fn: (result: ExecuteResponse, ...args: A) => R | Promise<R>, options: GateOptions<A>): (...args: A) => Promise<R> {
    return gate(this, fn, options);
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────────

  /**
   * GET /v1/events as an async iterator: `for await (const event of client.events({ signal }))`. It
   * reconnects after a drop without losing or repeating events; `signal` (or `break`) ends it.
   */
  events(options: EventStreamOptions = {}): AsyncGenerator<DomainEvent, void, undefined> {
    return eventStream(this.transport, options);
  }

  // ── audit and incidents ──────────────────────────────────────────────────────────────────────

  readonly audit = {
    /** GET /v1/audit/events: newest first, a page at a time (`next_before_seq`). */
    events: (query: AuditEventsQuery = {}, options: CallOptions = {}): Promise<AuditEventsPage> =>
      this.transport.json({ method: 'GET', path: '/v1/audit/events', query: { ...query }, idempotent: true, signal: options.signal }),

    /** GET /v1/audit/status: the head, the checkpoints and the last verification (audit:read). */
    status: (options: CallOptions = {}): Promise<AuditStatus> => this.transport.json({ method: 'GET', path: '/v1/audit/status', idempotent: true, signal: options.signal }),

    /**
     * POST /v1/audit/verify: checks the whole chain on the server, reporting progress, and returns the
     * result it records in the chain as audit.verified (audit:read). Sent once: each run is recorded.
     */
    verify: async (options: CallOptions & { readonly onProgress?: (progress: VerifyProgress) => void } = {}): Promise<VerificationRecord> => {
      const response = await this.transport.send({ method: 'POST', path: '/v1/audit/verify', idempotent: false, signal: options.signal });
      for await (const line of ndjson<{ type: string; message?: string } & Partial<VerificationRecord> & Partial<VerifyProgress>>(response)) {
        if (line.type === 'progress') options.onProgress?.({ checked: line.checked as number, total: line.total as number });
        else if (line.type === 'result') {
          const { type: _type, ...record } = line;
          return record as VerificationRecord;
        } else if (line.type === 'error') throw new AirlockClientError('audit_verify_failed', `the verification failed on the server: ${line.message ?? 'no reason given'}`);
      }
      throw new AirlockClientError('audit_verify_failed', 'the verification ended without a result');
    },

    /** GET /v1/audit/export: every event after `after`, oldest first, streamed (audit:read; recorded as audit.exported). */
    export: (query: { readonly after?: number } = {}, options: CallOptions = {}): AsyncGenerator<ExportedAuditEvent> => exportAudit(this.transport, query, options),
  };

  readonly incidents = {
    /** GET /v1/incidents: newest first (audit:read). */
    list: async (query: IncidentsQuery = {}, options: CallOptions = {}): Promise<Incident[]> => {
      const severity = query.severity === undefined ? undefined : typeof query.severity === 'string' ? query.severity : query.severity.join(',');
      return (await this.transport.json<{ incidents: Incident[] }>({ method: 'GET', path: '/v1/incidents', query: { since: query.since, severity, limit: query.limit }, idempotent: true, signal: options.signal }))
        .incidents;
    },

    /** POST /v1/incidents: records an incident in the audit chain (admin). */
    create: async (input: IncidentInput, options: CallOptions = {}): Promise<Incident> =>
      (await this.transport.json<{ incident: Incident }>({ method: 'POST', path: '/v1/incidents', body: input, idempotent: false, signal: options.signal })).incident,
  };

  // ── workspaces ──────────────────────────────────────────────────────────────────────────────

  readonly workspaces = {
    /** POST /v1/workspaces (workspaces:use). */
    create: async (input: CreateWorkspaceInput, options: CallOptions = {}): Promise<WorkspaceView> =>
      (await this.transport.json<{ workspace: WorkspaceView }>({ method: 'POST', path: '/v1/workspaces', body: input, idempotent: false, signal: options.signal })).workspace,

    /** GET /v1/workspaces: one's own (admins: `all`). */
    list: async (query: ListWorkspacesQuery = {}, options: CallOptions = {}): Promise<WorkspaceView[]> =>
      (
        await this.transport.json<{ workspaces: WorkspaceView[] }>({
          method: 'GET',
          path: '/v1/workspaces',
          query: { all: query.all === undefined ? undefined : String(query.all), status: query.status },
          idempotent: true,
          signal: options.signal,
        })
      ).workspaces,

    get: async (id: string, options: CallOptions = {}): Promise<WorkspaceView> =>
      (await this.transport.json<{ workspace: WorkspaceView }>({ method: 'GET', path: `/v1/workspaces/${enc(id)}`, idempotent: true, signal: options.signal })).workspace,

    /** DELETE /v1/workspaces/{id}: a soft delete, restorable until purged. */
    delete: async (id: string, options: CallOptions = {}): Promise<WorkspaceView> =>
      (await this.transport.json<{ workspace: WorkspaceView }>({ method: 'DELETE', path: `/v1/workspaces/${enc(id)}`, idempotent: false, signal: options.signal })).workspace,

    restore: async (id: string, options: CallOptions = {}): Promise<WorkspaceView> =>
      (await this.transport.json<{ workspace: WorkspaceView }>({ method: 'POST', path: `/v1/workspaces/${enc(id)}/restore`, idempotent: false, signal: options.signal })).workspace,

    /** The URL of a workspace's MCP endpoint (Streamable HTTP), for an MCP client. */
    mcpUrl: (id: string): string => `${this.url}/v1/workspaces/${enc(id)}/mcp`,
  };

  // ── step-up challenges ──────────────────────────────────────────────────────────────────────

  readonly challenges = {
    /** POST /v1/challenges: plan a step-up (for a sensitive request, or to approve with instead of a code). */
    plan: async (input: PlanChallengeInput, options: CallOptions = {}): Promise<ChallengeView> =>
      (await this.transport.json<{ challenge: ChallengeView }>({ method: 'POST', path: '/v1/challenges', body: input, idempotent: false, signal: options.signal })).challenge,

    get: async (id: string, options: CallOptions = {}): Promise<ChallengeView> =>
      (await this.transport.json<{ challenge: ChallengeView }>({ method: 'GET', path: `/v1/challenges/${enc(id)}`, idempotent: true, signal: options.signal })).challenge,

    /** POST /v1/challenges/{id}/approve with a person's TOTP code. */
    approve: async (id: string, code: string, options: CallOptions = {}): Promise<ChallengeView> =>
      (await this.transport.json<{ challenge: ChallengeView }>({ method: 'POST', path: `/v1/challenges/${enc(id)}/approve`, body: { code }, idempotent: false, signal: options.signal })).challenge,
  };
}

async function* exportAudit(transport: Transport, query: { readonly after?: number }, options: CallOptions): AsyncGenerator<ExportedAuditEvent> {
  const response = await transport.send({ method: 'GET', path: '/v1/audit/export', query: { after: query.after }, headers: { accept: 'application/x-ndjson' }, idempotent: true, signal: options.signal });
  yield* ndjson<ExportedAuditEvent>(response);
}

/** `new AirlockClient(options)`. */
export function createClient(options: AirlockClientOptions): AirlockClient {
  return new AirlockClient(options);
}
