export { Gateway, REPLAY_ERROR, type ExecuteResponse } from './service.js';
export { gatewayRoutes } from './routes.js';
export { signReceipt, verifyReceipt, type ReceiptClaims } from './receipts.js';
