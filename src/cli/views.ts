import type { JsonShape } from './json-doc.js';

/** The fields of a request as --json prints it (`request`, `approvals show`, `approve`, …). */
const REQUEST_FIELDS = [
  'request_id', 'status', 'risk_level', 'risk_reasons', 'auto_approved', 'worker_id', 'task_name', 'deployment_env', 'environment', 'target', 'command', 'op', 'op_hash',
  'instruction_score', 'instruction_findings', 'requested_by', 'requester', 'decided_by', 'decision_reason', 'created_at', 'expires_at', 'decided_at', 'minted_at', 'executed_at',
  'required_approvals', 'approvals', 'step_up_required',
] as const;
export const REQUEST_JSON: JsonShape = { shape: 'object', fields: REQUEST_FIELDS };
export const EXECUTION_JSON: JsonShape = {
  shape: 'object',
  fields: ['success', 'output', 'stdout', 'stderr', 'exit_code', 'execution_id', 'status', 'duration_ms', 'truncated', 'receipt'],
  optional: ['error', 'result', 'error_code'],
  note: 'result is a typed operation\'s JSON result; receipt is the signed execution receipt (airlock receipt verify)',
};

