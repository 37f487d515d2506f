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
}

export interface Database {
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointsTable;
}
