// Apart from the schema: the command line offers these as choices and must start without loading zod.

export const FORMATS = ['standard', 'slack'] as const;
export type WebhookFormat = (typeof FORMATS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
