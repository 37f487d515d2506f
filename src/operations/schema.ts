import { posix } from 'node:path';
import { z } from 'zod';

/**
 * Typed operations: what may be asked instead of a command line. Each has its own input schema; the
 * parsed input (defaults filled in, paths normalised) is what is approved, hashed into the token and run.
 */

/** An absolute path, normalised so that `/etc/../etc//shadow` is approved and checked as `/etc/shadow`. */
const AbsolutePath = z
  .string()
  .min(2)
  .max(4096)
  .refine((path) => path.startsWith('/'), { error: 'must be an absolute path' })
  .refine((path) => !path.includes('\0'), { error: 'must not contain NUL' })
  .transform((path) => posix.normalize(path))
  .refine((path) => path !== '/' && !path.endsWith('/'), { error: 'must name a file, not a directory' });

/** Docker's rule for container names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`); ids (hex) match it too. */
export const ContainerName = z
  .string()
  .max(253)
  .regex(/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, { error: 'must be a container name or id' })
  .transform((name) => name.replace(/^\//, ''));

/** An ISO 8601 time, or a span back from now: 30s, 15m, 2h, 7d. */
const Since = z.union([z.iso.datetime({ offset: true }), z.string().regex(/^[1-9][0-9]{0,5}[smhd]$/, { error: 'must be an ISO time or a span like 15m, 2h, 7d' })]);

/** At most this much file content travels in one request (the HTTP body limit is 1 MiB, base64 adds a third). */
export const MAX_WRITE_BYTES = 512 * 1024;

const Base64 = z
  .string()
  .max(Math.ceil(MAX_WRITE_BYTES / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'must be standard base64' })
  .refine((text) => text.length % 4 === 0, { error: 'must be padded base64 (a multiple of 4 characters)' });

const Mode = z.string().regex(/^0?[0-7]{3}$/, { error: 'must be an octal mode such as 0644' }).transform((mode) => mode.padStart(4, '0'));

const BACKUP_NAME = /^\.(.+)\.airlock-backup-\d{8}T\d{9}Z-[0-9a-f]{8}$/;

/** The name file.write gives the backup of `path`: beside it, hidden, stamped with the time. */
export function backupNameFor(path: string, stamp: Date, random: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.airlock-backup-${stamp.toISOString().replace(/[-:.]/g, '')}-${random}`);
}

/** Only a backup that file.write made of this very path (not of another file, not elsewhere). */
export function isBackupOf(backupPath: string, path: string): boolean {
  return posix.dirname(backupPath) === posix.dirname(path) && BACKUP_NAME.exec(posix.basename(backupPath))?.[1] === posix.basename(path);
}

const stopSeconds = z.number().int().min(0).max(600).default(10);

export const OP_ARGS = {
  'system.info': z.strictObject({}),
  'journal.read': z.strictObject({
    unit: z.string().regex(/^[A-Za-z0-9@._:-]{1,256}$/, { error: 'must be a systemd unit name' }).optional(),
    lines: z.number().int().min(1).max(10_000).default(100),
    since: Since.optional(),
  }),
  'cron.list': z.strictObject({
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a user name' }).optional(),
  }),
  'file.read': z.strictObject({
    path: AbsolutePath,
    max_bytes: z.number().int().min(1).max(4 * 1024 * 1024).default(256 * 1024),
  }),
  'file.write': z.strictObject({
    path: AbsolutePath,
    content_base64: Base64,
    /** The new file's mode; the old file's mode when it existed, else 0644. */
    mode: Mode.optional(),
  }),
  'file.rollback': z
    .strictObject({
      path: AbsolutePath,
      /** A backup that file.write (or file.rollback) made of this very path. */
      backup_path: AbsolutePath,
    })
    .refine((args) => isBackupOf(args.backup_path, args.path), {
      path: ['backup_path'],
      error: 'must be a backup of this path: .<name>.airlock-backup-<time>-<random> beside it',
    }),
  'container.list': z.strictObject({ all: z.boolean().default(false) }),
  'container.inspect': z.strictObject({ container: ContainerName }),
  'container.logs': z.strictObject({
    container: ContainerName,
    tail: z.number().int().min(1).max(10_000).default(100),
    since: Since.optional(),
    max_bytes: z.number().int().min(1).max(4 * 1024 * 1024).default(256 * 1024),
  }),
  'container.restart': z.strictObject({ container: ContainerName, timeout_seconds: stopSeconds }),
  'container.stop': z.strictObject({ container: ContainerName, timeout_seconds: stopSeconds }),
  'container.start': z.strictObject({ container: ContainerName }),
} as const;

export type OpName = keyof typeof OP_ARGS;
export const OP_NAMES = Object.keys(OP_ARGS) as OpName[];
export type OpArgs<N extends OpName> = z.output<(typeof OP_ARGS)[N]>;

function variant<N extends OpName>(name: N) {
  // A missing `args` is read as {}, so an operation without required arguments needs none.
  const args = z.preprocess((value) => value ?? {}, OP_ARGS[name] as (typeof OP_ARGS)[N]);
  return z.strictObject({ name: z.literal(name), args });
}

/** What a client sends: `{"name": "file.read", "args": {"path": "/etc/hosts"}}`; `args` may be left out where nothing is required. */
export const TypedOpSchema = z.discriminatedUnion('name', [
  variant('system.info'),
  variant('journal.read'),
  variant('cron.list'),
  variant('file.read'),
  variant('file.write'),
  variant('file.rollback'),
  variant('container.list'),
  variant('container.inspect'),
  variant('container.logs'),
  variant('container.restart'),
  variant('container.stop'),
  variant('container.start'),
]);
export type TypedOpInput = z.input<typeof TypedOpSchema>;

/** A typed operation as approved: its name and its parsed arguments. */
export type TypedOp = { readonly kind: 'op' } & z.output<typeof TypedOpSchema>;

export function typedOp(input: z.output<typeof TypedOpSchema>): TypedOp {
  return { kind: 'op', ...input } as TypedOp;
}
