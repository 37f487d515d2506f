import { z } from 'zod';

/**
 * The backup file: gzip of UTF-8 JSON lines, one dialect-neutral format for SQLite and PostgreSQL.
 *
 *   {"type":"header", …}                       what, when, from where; schema; audit head; tables and row counts
 *   {"type":"keys", …}                         only with --include-keys: the key files, scrypt + AES-256-GCM
 *   {"type":"table","name":"users","columns":[…]}
 *   ["…", 1, null, …]                          one row: a JSON array in the order of `columns`
 *   {"type":"table_end","name":"users","rows":3}
 *   …                                          every table, in BACKUP_TABLES order
 *   {"type":"end","sha256":"…"}                sha256 (hex) of every byte before this line, uncompressed
 *
 * Values are only strings, finite numbers and null: every column is text or an integer on both dialects,
 * so a backup of either restores into either.
 */
export const BACKUP_FORMAT = 'airlock-backup';
export const FORMAT_VERSION = 1;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const Name = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/);

export const Header = z.strictObject({
  type: z.literal('header'),
  format: z.literal(BACKUP_FORMAT),
  format_version: z.literal(FORMAT_VERSION),
  backup_id: z.string().min(1).max(100),
  airlock_version: z.string().min(1).max(50),
  created_at: z.iso.datetime(),
  dialect: z.enum(['sqlite', 'postgres']),
  /** Where the data came from, password masked. */
  source: z.string().max(2000),
  /** The migrations applied to the source, in order: the schema the rows were made under. */
  schema: z.strictObject({ migrations: z.array(z.string().min(1).max(200)).min(1) }),
  audit_head: z.strictObject({ seq: z.number().int().min(0), hash: Sha256Hex, checkpoint_seq: z.number().int().min(0) }),
  tables: z.array(z.strictObject({ name: Name, columns: z.array(Name).min(1), rows: z.number().int().min(0) })),
  keys: z.strictObject({ included: z.boolean(), files: z.array(z.string().max(200)) }),
  /** Key ids that signed the chain's checkpoints, with the public keys (SPKI DER, base64) known at backup time. */
  audit_keys: z.array(z.strictObject({ key_id: z.string().min(1).max(100), spki: Base64.nullable() })),
});
export type Header = z.infer<typeof Header>;

export const SealedKeys = z.strictObject({
  type: z.literal('keys'),
  kdf: z.strictObject({
    name: z.literal('scrypt'),
    // Bounded, so that a crafted file cannot make restore allocate gigabytes.
    N: z.number().int().min(1024).max(2 ** 20),
    r: z.number().int().min(1).max(16),
    p: z.number().int().min(1).max(4),
    salt: Base64,
  }),
  cipher: z.literal('aes-256-gcm'),
  iv: Base64,
  tag: Base64,
  ciphertext: Base64,
});
export type SealedKeys = z.infer<typeof SealedKeys>;

export const TableStart = z.strictObject({ type: z.literal('table'), name: Name, columns: z.array(Name).min(1) });
export const TableEnd = z.strictObject({ type: z.literal('table_end'), name: Name, rows: z.number().int().min(0) });
export const End = z.strictObject({ type: z.literal('end'), sha256: Sha256Hex });

/** One key file inside the sealed block: where it goes (by role, not by path) and its bytes. */
export const KeyFile = z.strictObject({
  name: z.string().regex(/^(token|receipt|access|audit)(\.pub)?$|^secret$|^retired\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  content: Base64,
});
export type KeyFile = z.infer<typeof KeyFile>;
export const KeyFiles = z.array(KeyFile);

/** A value of a row: what both dialects store and JSON says exactly. */
export type Value = string | number | null;

export function isValue(value: unknown): value is Value {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
