import { z } from 'zod';
import { WORKSPACE_PROVIDERS } from '../config/schema.js';

const label = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, { error: 'label names are 1-63 letters, digits, ".", "_", "/" or "-"' });

export const CreateWorkspaceBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'a workspace name is 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit' }),
  /** directory or container; the configured default when absent. */
  provider: z.enum(WORKSPACE_PROVIDERS).optional(),
  /** The most bytes the workspace may hold; the configured default when absent. */
  quota_bytes: z.number().int().min(1024).max(Number.MAX_SAFE_INTEGER).optional(),
  labels: z.record(label, z.string().max(256)).refine((labels) => Object.keys(labels).length <= 32, { error: 'at most 32 labels' }).optional(),
});

export const WorkspaceParams = z.strictObject({ id: z.string().min(1).max(100) });

export const ListWorkspacesQuery = z.strictObject({
  /** Every owner's workspaces (admins only). */
  all: z.enum(['true', 'false']).optional(),
  status: z.enum(['active', 'deleted', 'purging', 'purged', 'any']).optional(),
});
