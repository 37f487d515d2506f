/** The shapes the console reads from the API (see the server's routes). */

export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export const LEVELS: readonly RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
export type Status = 'PENDING' | 'APPROVED' | 'REJECTED' | 'EXPIRED' | 'EXECUTED';

export type Operation =
  | { readonly kind: 'exec'; readonly argv: readonly string[] }
  | { readonly kind: 'shell'; readonly script: string }
  | { readonly kind: 'op'; readonly name: string; readonly args: Readonly<Record<string, unknown>> };

export interface Finding {
  readonly section: string;
  readonly problem: string;
  readonly message: string;
}

export interface Approval {
  readonly request_id: string;
  readonly status: Status;
  readonly risk_level: RiskLevel;
  readonly risk_reasons: ReadonlyArray<{ readonly rule: string; readonly level: RiskLevel; readonly reason: string }>;
  readonly auto_approved: boolean;
  readonly worker_id: string;
  readonly task_name: string;
  readonly environment: string;
  readonly target: string;
  readonly command: string;
  readonly op: Operation;
  readonly op_hash: string;
  readonly instruction_score: number;
  readonly instruction_findings: readonly Finding[];
  readonly requested_by: string;
  readonly requester: string | null;
  readonly decided_by: string | null;
  readonly decision_reason: string | null;
  readonly created_at: string;
  readonly expires_at: string;
  readonly decided_at: string | null;
  readonly minted_at: string | null;
  readonly executed_at: string | null;
  readonly required_approvals: number;
  readonly approvals: ReadonlyArray<{ readonly username: string; readonly decided_at: string; readonly step_up: string | null }>;
  readonly step_up_required: boolean;
}

export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: { readonly type: string; readonly id: string } | null;
  readonly environment: string | null;
  readonly target: string | null;
  readonly data: Record<string, unknown>;
  readonly hash: string;
}

export interface Execution {
  readonly id: string;
  readonly status: string;
  readonly exit_code: number | null;
  readonly output: string | null;
  readonly output_sha256: string | null;
  readonly truncated: boolean;
  readonly error: string | null;
  readonly receipt: string | null;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly duration_ms: number | null;
}

export interface History {
  readonly request: Approval;
  readonly instruction: { readonly text: string; readonly sections: Readonly<Record<string, string | null>> };
  readonly events: readonly AuditEntry[];
  readonly executions: readonly Execution[];
}

export interface WhoAmI {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly user: { readonly id: string; readonly username: string; readonly role: string };
  readonly role: string;
  readonly scopes: readonly string[];
}

export interface SessionInfo {
  readonly authenticated: boolean;
  readonly csrf_token?: string;
  readonly expires_at?: string;
  readonly mfa?: boolean;
  readonly totp_enrolled?: boolean;
  readonly whoami?: WhoAmI;
}

export interface User {
  readonly id: string;
  readonly username: string;
  readonly kind: 'human' | 'service';
  readonly role: string;
  readonly status: 'active' | 'disabled';
  readonly totp_enrolled: boolean;
  readonly created_at: string;
  readonly locked_until: string | null;
}

export interface ApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly owner: string | null;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly environments: readonly string[] | null;
  readonly targets: readonly string[] | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

export interface Target {
  readonly id: string;
  readonly executor: string;
  readonly description: string | null;
  readonly environments: readonly string[];
  readonly capabilities: readonly string[];
  readonly constraints: {
    readonly timeout: number;
    readonly concurrency: number;
    readonly output_cap: number;
    readonly shell: boolean;
    readonly sudo_policy: string;
    readonly sudo_allow: readonly string[];
  };
  readonly mode: string;
}

export interface Rule {
  readonly id: string;
  readonly level: RiskLevel;
  readonly reason: string;
  readonly final: boolean;
  readonly match: Readonly<Record<string, unknown>>;
}

export interface EnvironmentPolicy {
  readonly raise: number;
  readonly autoApprove: readonly RiskLevel[];
  readonly minScore: number;
  readonly pendingMinutes: number;
  readonly stepUp: readonly RiskLevel[];
  readonly approvers: Readonly<Partial<Record<RiskLevel, number>>>;
}

export interface PolicyView {
  readonly source: string;
  readonly builtins: boolean;
  readonly default_level: RiskLevel;
  readonly rules: readonly Rule[];
  readonly builtin_rules: readonly Rule[];
  readonly environments: Readonly<Record<string, EnvironmentPolicy>>;
  readonly sensitive_paths: readonly string[];
}

export interface FileCheck {
  readonly source: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface Validation {
  readonly ok: boolean;
  readonly targets: FileCheck & { readonly targets: readonly string[]; readonly in_force: boolean };
  readonly policy: FileCheck & { readonly rules: number };
}

export interface VerificationRecord {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly ok: boolean;
  readonly count: number;
  readonly head_seq: number;
  readonly head_hash: string;
  readonly checkpoints: number;
  readonly duration_ms: number;
  readonly problem: { readonly seq: number; readonly reason: string } | null;
}

export interface AuditStatus {
  readonly head: { readonly seq: number; readonly hash: string };
  readonly checkpoints: {
    readonly count: number;
    readonly last: { readonly seq: number; readonly hash: string; readonly time: string; readonly key_id: string } | null;
    readonly unsigned_events: number;
  };
  readonly key_id: string;
  readonly last_verification: VerificationRecord | null;
}

export interface HourStats {
  readonly hour: string;
  readonly requests: Readonly<Record<RiskLevel, number>>;
  readonly decisions: number;
  readonly median_seconds: number | null;
  readonly p90_seconds: number | null;
}

export interface Stats {
  readonly hours: number;
  readonly since: string;
  readonly until: string;
  readonly totals: {
    readonly requests: number;
    readonly by_level: Readonly<Record<RiskLevel, number>>;
    readonly by_status: Readonly<Record<string, number>>;
    readonly auto_approved: number;
  };
  readonly decision_latency: { readonly count: number; readonly median_seconds: number | null; readonly p90_seconds: number | null; readonly max_seconds: number | null };
  readonly per_hour: readonly HourStats[];
}

export interface AdminStatus {
  readonly version: string;
  readonly instance: string | null;
  readonly store: string;
  readonly environments: readonly string[];
  readonly deliveries: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly integrations: {
    readonly webhooks: { readonly endpoints: readonly string[]; readonly subscriptions: number };
    readonly telegram: { readonly endpoints: readonly string[]; readonly messages: number };
  };
}

export interface Health {
  readonly status: string;
  readonly timestamp: string;
  readonly version: string;
  readonly checks: Readonly<Record<string, { readonly status: string } & Readonly<Record<string, unknown>>>>;
}

/** A domain event of GET /v1/events. */
export interface LiveEvent {
  readonly seq: number;
  readonly type: string;
  readonly time: string;
  readonly actor: string;
  readonly subject: { readonly type: string; readonly id: string } | null;
  readonly environment: string | null;
  readonly target: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}
