import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { AirlockError } from '../errors.js';
import type { FileInfo, Host } from './host.js';
import { backupNameFor, isBackupOf, type OpArgs } from './schema.js';

/**
 * file.read, file.write and file.rollback on a host. Every write first keeps the old content as a
 * backup beside the file (`.<name>.airlock-backup-<time>-<random>`, same mode and owner), then
 * replaces the file atomically (a new file renamed over the old one). A path that goes through a
 * symbolic link is refused: the sensitive-path rules judged the path as written, and a link could
 * point anywhere.
 */

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

function failure(code: string, message: string, status = 409): AirlockError {
  return new AirlockError(code, message, { status });
}

/** The path exactly as named, with no symbolic link anywhere along it. */
async function assertNoLink(host: Host, path: string, mustExist: boolean): Promise<FileInfo | undefined> {
  const info = await host.stat(path);
  if (info?.type === 'symlink') throw failure('path_is_link', `${path} is a symbolic link; name the file it points to`);
  const existing = info ? path : posix.dirname(path);
  if (!info && mustExist) throw failure('file_not_found', `${path} does not exist`, 404);
  let real: string;
  try {
    real = await host.realpath(existing);
  } catch {
    throw failure('file_not_found', `${existing} does not exist`, 404);
  }
  if (real !== existing) throw failure('path_is_link', `${existing} goes through a symbolic link (it is ${real}); name the real path`);
  if (info && info.type !== 'file') throw failure('not_a_file', `${path} is a ${info.type}, not a regular file`);
  return info;
}

/** Writes `data` as a new file beside `path` and renames it over `path`, with the given mode and owner. */
async function replaceAtomically(host: Host, path: string, data: Buffer, mode: number, owner: { uid: number; gid: number } | undefined): Promise<void> {
  const temporary = posix.join(posix.dirname(path), `.${posix.basename(path)}.airlock-tmp-${randomBytes(6).toString('hex')}`);
  await host.createFile(temporary, data, mode);
  try {
    if (owner && (await host.uid()) === 0) await host.chown(temporary, owner.uid, owner.gid);
    await host.rename(temporary, path);
  } catch (error) {
    await host.remove(temporary).catch(() => undefined);
    throw error;
  }
}

/** Copies the current content of `path` to a new backup beside it. */
async function backUp(host: Host, path: string, info: FileInfo): Promise<{ backup_path: string; backup_sha256: string }> {
  const content = await host.readFile(path, info.size);
  if (content.length !== info.size) throw failure('file_changed', `${path} changed while it was being backed up`);
  const backupPath = backupNameFor(path, new Date(), randomBytes(4).toString('hex'));
  await host.createFile(backupPath, content, info.mode);
  if ((await host.uid()) === 0) await host.chown(backupPath, info.uid, info.gid);
  return { backup_path: backupPath, backup_sha256: sha256(content) };
}

export interface FileReadResult {
  readonly path: string;
  readonly size: number;
  readonly mode: string;
  readonly truncated: boolean;
  /** sha256 of the bytes returned. */
  readonly sha256: string;
  readonly content_base64: string;
  /** The content as text, when it is valid UTF-8. */
  readonly text?: string;
}

export async function fileRead(host: Host, args: OpArgs<'file.read'>): Promise<FileReadResult> {
  const info = (await assertNoLink(host, args.path, true)) as FileInfo;
  const content = await host.readFile(args.path, Math.min(args.max_bytes, info.size));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(content);
  return {
    path: args.path,
    size: info.size,
    mode: octal(info.mode),
    truncated: info.size > content.length,
    sha256: sha256(content),
    content_base64: content.toString('base64'),
    ...(Buffer.from(text, 'utf8').equals(content) ? { text } : {}),
  };
}

export interface FileWriteResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly mode: string;
  readonly created: boolean;
  /** Where the old content was kept (null when the file is new): what file.rollback takes. */
  readonly backup_path: string | null;
  readonly backup_sha256: string | null;
}

export async function fileWrite(host: Host, args: OpArgs<'file.write'>): Promise<FileWriteResult> {
  const info = await assertNoLink(host, args.path, false);
  const data = Buffer.from(args.content_base64, 'base64');
  const mode = args.mode !== undefined ? Number.parseInt(args.mode, 8) : (info?.mode ?? 0o644);
  const backup = info ? await backUp(host, args.path, info) : undefined;
  await replaceAtomically(host, args.path, data, mode, info);
  return {
    path: args.path,
    bytes: data.length,
    sha256: sha256(data),
    mode: octal(mode),
    created: info === undefined,
    backup_path: backup?.backup_path ?? null,
    backup_sha256: backup?.backup_sha256 ?? null,
  };
}

export interface FileRollbackResult {
  readonly path: string;
  readonly restored_from: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The content that was replaced, kept as a backup in turn (null when the file was gone). */
  readonly backup_path: string | null;
  readonly backup_sha256: string | null;
}

export async function fileRollback(host: Host, args: OpArgs<'file.rollback'>): Promise<FileRollbackResult> {
  if (!isBackupOf(args.backup_path, args.path)) {
    throw failure('backup_not_of_path', `${args.backup_path} is not a backup of ${args.path} (backups of it are named .${posix.basename(args.path)}.airlock-backup-… beside it)`, 403);
  }
  const saved = (await assertNoLink(host, args.backup_path, true)) as FileInfo;
  const info = await assertNoLink(host, args.path, false);
  const content = await host.readFile(args.backup_path, saved.size);
  const backup = info ? await backUp(host, args.path, info) : undefined;
  await replaceAtomically(host, args.path, content, saved.mode, saved);
  return {
    path: args.path,
    restored_from: args.backup_path,
    bytes: content.length,
    sha256: sha256(content),
    backup_path: backup?.backup_path ?? null,
    backup_sha256: backup?.backup_sha256 ?? null,
  };
}
