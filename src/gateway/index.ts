export { Gateway, REPLAY_ERROR, findExecution, type ExecuteResponse, type ExecutionService } from './service.js';
export { RemoteGateway } from './remote.js';
export { executeRoutes, executionRoutes, tokenRoutes, receiptKeyRoutes } from './routes.js';
export { signReceipt, verifyReceipt, type ReceiptClaims } from './receipts.js';
export { runApproved } from './run-approved.js';
