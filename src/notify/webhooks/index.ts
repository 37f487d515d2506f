export { WebhookChannel, SEND_TIMEOUT_MS } from './channel.js';
export { DELIVERY_STATUSES, FORMATS, type WebhookFormat } from './schema.js';
export { Webhooks, type AttemptView, type DeliveryCounts, type DeliveryView, type WebhookView } from './service.js';
export { webhookRoutes } from './routes.js';
