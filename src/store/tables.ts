/** The tables of the store, as Kysely sees them. Domains add theirs here as they arrive. */
export interface AuditEventsTable {
  seq: number;
  id: string;
  time: string;
  actor: string;
  action: string;
  subject_type: string | null;
  subject_id: string | null;
  environment: string | null;
  target: string | null;
  /** RFC 8785 canonical JSON text, exactly as hashed. */
  data: string;
  prev_hash: string;
  hash: string;
}

/** The single row (id = 1) that every append locks: the chain's current end and last checkpoint. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  checkpoint_seq: number;
  updated_at: string;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  time: string;
  key_id: string;
  signature: string;
  /** On the checkpoint of an `audit.key_rotated` event only: the key handed over from, and its signature of the hand-over. */
  prev_key_id: string | null;
  prev_signature: string | null;
}

export interface ApiKeysTable {
  id: string;
  /** The visible part of the key, for lookup and recognition; the secret is stored only as a hash. */
  prefix: string;
  secret_hash: string;
  name: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  last_used_at: string | null;
  /** The user or service account that owns the key; its role bounds the key's scopes. */
  user_id: string | null;
  expires_at: string | null;
  /** JSON arrays limiting where the key may be used; null means anywhere its owner may. */
  environments: string | null;
  targets: string | null;
}

export interface UsersTable {
  id: string;
  username: string;
  kind: string;
  role: string;
  password_hash: string | null;
  status: string;
  created_at: string;
  created_by: string;
  updated_at: string;
  failed_logins: number;
  locked_until: string | null;
  /** Encrypted (AES-256-GCM) base32 TOTP secrets. */
  totp_secret: string | null;
  totp_pending: string | null;
  totp_enrolled_at: string | null;
  totp_last_step: number | null;
  /** JSON array of sha256 hashes of unused recovery codes. */
  recovery_codes: string | null;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  refresh_hash: string | null;
  user_id: string;
  /** 1 when the login was confirmed with a TOTP code. */
  mfa: number;
  ip: string | null;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  revoked_at: string | null;
}

export interface ApprovalDecisionsTable {
  approval_id: string;
  user_id: string;
  username: string;
  decision: string;
  reason: string | null;
  /** How the decider proved presence: 'totp', 'challenge:<id>' or null when not needed. */
  step_up: string | null;
  decided_at: string;
}

export interface OutboxTable {
  /** The audit seq of the event it came from: commit order, and the SSE event id. */
  seq: number;
  type: string;
  time: string;
  actor: string;
  subject_type: string | null;
  subject_id: string | null;
  environment: string | null;
  target: string | null;
  data: string;
}

export interface OutboxCursorsTable {
  consumer: string;
  last_seq: number;
  updated_at: string;
}

export interface DeliveriesTable {
  id: string;
  /** webhook | telegram */
  channel: string;
  /** A webhook subscription id, a Telegram chat id. */
  destination: string;
  event_seq: number;
  /** pending | delivered | dead */
  status: string;
  attempts: number;
  next_attempt_at: string;
  /** Claimed by a sender until then (several instances share the table). */
  lease_until: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface DeliveryAttemptsTable {
  delivery_id: string;
  attempt: number;
  at: string;
  /** delivered | failed */
  outcome: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface WebhookSubscriptionsTable {
  id: string;
  url: string;
  /** JSON array of event types; ["*"] for all. */
  events: string;
  /** standard | slack */
  format: string;
  /** The signing secret, sealed with the secret key. */
  secret_box: string;
  description: string | null;
  created_by: string;
  created_at: string;
  disabled_at: string | null;
}

export interface TelegramMessagesTable {
  approval_id: string;
  chat_id: string;
  message_id: number;
  created_at: string;
}

export interface ChallengesTable {
  id: string;
  purpose: string;
  approval_id: string | null;
  created_by: string;
  status: string;
  created_at: string;
  expires_at: string;
  approved_by: string | null;
  approved_at: string | null;
  consumed_at: string | null;
  consumed_for: string | null;
}

export interface ApprovalsTable {
  id: string;
  worker_id: string;
  task_name: string;
  instruction: string;
  environment: string;
  target: string;
  /** The command as asked for, for people; `op` is what is approved and run. */
  command: string;
  /** RFC 8785 canonical JSON of the operation. */
  op: string;
  op_hash: string;
  risk_level: string;
  /** JSON array of matched rules. */
  risk_reasons: string;
  score: number;
  /** JSON array of instruction findings. */
  findings: string;
  status: string;
  requested_by: string;
  decided_by: string | null;
  decision_reason: string | null;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  token_jti: string | null;
  minted_at: string | null;
  executed_at: string | null;
  /** How many distinct approvers must approve (k of n). */
  required_approvals: number;
  /** 1 when every approval needs a TOTP step-up (HIGH, CRITICAL, sensitive paths). */
  step_up: number;
}

export interface ExecutionsTable {
  id: string;
  jti: string;
  approval_id: string;
  instance_id: string;
  environment: string;
  target: string;
  op_hash: string;
  status: string;
  exit_code: number | null;
  output: string | null;
  output_sha256: string | null;
  truncated: number;
  error: string | null;
  /** The signed receipt (compact JWS) of a finished execution. */
  receipt: string | null;
  /** "pid:starttime" of the running command's process group (Linux), for recovery after a crash. */
  process: string | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface WorkspacesTable {
  id: string;
  /** The user (or service account) that owns it; only they and admins see or use it. */
  owner_id: string;
  owner_name: string;
  name: string;
  /** directory | container */
  provider: string;
  quota_bytes: number;
  /** JSON object of string labels. */
  labels: string;
  /** active | deleted (restorable until purge_after) | purging | purged */
  status: string;
  container_id: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  purge_after: string | null;
  purged_at: string | null;
}

export interface Database {
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  approval_decisions: ApprovalDecisionsTable;
  challenges: ChallengesTable;
  approvals: ApprovalsTable;
  executions: ExecutionsTable;
  outbox: OutboxTable;
  outbox_cursors: OutboxCursorsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  telegram_messages: TelegramMessagesTable;
  workspaces: WorkspacesTable;
}
