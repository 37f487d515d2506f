export { Approvals, POLICY_ACTOR, type ApprovalView } from './service.js';
export { approvalRoutes } from './routes.js';
export { canonicalOp, displayOp, opHash, parseCommand, readOperation, type CommandOp, type Operation, type ParsedCommand, type ParsedOperation } from './command.js';
export { parseInstruction, REFERENCE_INSTRUCTION, scoreInstruction, SECTIONS, type Finding } from './instruction.js';
export { assessRisk, type RiskDecision, type RiskReason } from './risk.js';
export { DEFAULT_POLICY, environmentPolicy, loadPolicy, PolicyHolder, readPolicyFile, type Policy, type PolicySource, type PolicyState } from './policy.js';
export { LEVELS, type RiskLevel } from './levels.js';
export { STATUSES, type ApprovalStatus } from './schema.js';
export { ApprovalParams } from './schema.js';
