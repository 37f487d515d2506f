import { z } from 'zod';
import { SEVERITIES } from './severities.js';

export { SEVERITIES } from './severities.js';
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** A target or environment name as the registry writes them. */
const Name = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'letters, digits and . _ : - only');

/**
 * An incident as reported: a security or operational event worth keeping on record (a replayed token, a
 * false claim in an instruction, an outage, a restore from backup). It is written into the audit
 * chain, hash-linked and signed like every other event, so it cannot be quietly edited or removed.
 */
export const IncidentInput = z.strictObject({
  severity: Severity,
  title: z.string().trim().min(1, 'the title must not be empty').max(200),
  /** What happened, what was done, what follows. */
  summary: z.string().trim().min(1).max(10_000).optional(),
  target: Name.optional(),
  environment: Name.optional(),
  /** The request it concerns, if any; it must exist. */
  approval_id: z.string().trim().min(1).max(100).optional(),
});
export type IncidentInput = z.infer<typeof IncidentInput>;

/** What the audit event's data holds (target and environment are the event's own columns). */
export const IncidentData = z.strictObject({
  severity: Severity,
  title: z.string(),
  summary: z.string().optional(),
  approval_id: z.string().optional(),
});

/** GET /v1/incidents and `airlock incidents list`: newest first. */
export const IncidentQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  /** One severity or several, comma-separated. */
  severity: z
    .string()
    .transform((text) => text.split(',').map((item) => item.trim()).filter(Boolean))
    .pipe(z.array(Severity).min(1))
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
/** A parsed query. */
export type IncidentFilter = z.output<typeof IncidentQuery>;

export interface Incident {
  readonly id: string;
  /** Its place in the audit chain. */
  readonly seq: number;
  readonly time: string;
  readonly reported_by: string;
  readonly severity: Severity;
  readonly title: string;
  readonly summary: string | null;
  readonly target: string | null;
  readonly environment: string | null;
  readonly approval_id: string | null;
  readonly hash: string;
}
