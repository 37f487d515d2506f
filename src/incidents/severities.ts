/** How bad an incident is, lowest first (apart from the schema: the command line offers them without loading zod). */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
