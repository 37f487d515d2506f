// The fixed lists of the configuration, apart from its schema: the command line offers them as choices
// and must start without loading zod.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where workspaces live and what they may use (src/workspaces). */
export const WORKSPACE_PROVIDERS = ['directory', 'container'] as const;

/** What one process does (DESIGN.md section 3): everything, the API side only, or the gateway side only. */
export const ROLES = ['all', 'api', 'gateway'] as const;
export type Role = (typeof ROLES)[number];
