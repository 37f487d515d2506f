export { AuditLog, checkpointMessage, handOverMessage, KEY_ROTATED_ACTION, readHead, type AuditEventInput, type AuditLogOptions, type ChainHead, type Checkpoint } from './log.js';
export { canonicalEvent, canonicalJson, chainHash, type AuditEvent, type HashedFields } from './canonical.js';
export { createFileOnce, keyIdOf, loadAuditSigner, loadKeyPair, loadPublicKeys, retiredAuditKeyFile, retiredAuditKeyFiles, signerOf, verifySignature, type AuditSigner, type KeyPair } from './keys.js';
export { rotateAuditKey, type RotationResult } from './rotate.js';
export { AuditMirror, eventJson } from './mirror.js';
export { latestEvents, readEvents } from './read.js';
export { ChainChecker, checkRange, verifyChain, type RangeResult, type RangeTask, type TrustedKey, type TrustedKeyInfo, type VerifyOptions, type VerifyProblem, type VerifyReport, PROGRESS_SLICE } from './verify.js';
export { auditStatus, exportLines, verifyAndRecord, VERIFIED_ACTION, type AuditStatus, type VerificationRecord } from './status.js';
export { AuditQuery, eventsAbout, queryAudit, type AuditEntry, type AuditQueryInput } from './query.js';
