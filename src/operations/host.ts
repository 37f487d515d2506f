import type { ExecResult } from '../executors/executor.js';

/** What a typed operation sees of a file. */
export interface FileInfo {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly size: number;
  /** Permission bits only (e.g. 0o644). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A machine as the system and file operations need it: argv commands and a few file primitives.
 * The local machine implements it with node:fs, an SSH host with SFTP on the pooled connection. Paths
 * are absolute; nothing here ever goes through a shell.
 */
export interface Host {
  /** Runs a program with its arguments, within the target's limits. */
  exec(argv: readonly string[]): Promise<ExecResult>;
  /** lstat: a symbolic link is reported as one, not followed; undefined when nothing is there. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** The path with every symbolic link resolved (the path must exist). */
  realpath(path: string): Promise<string>;
  /** At most `maxBytes` of a file from its start. */
  readFile(path: string, maxBytes: number): Promise<Buffer>;
  /** Creates a new file (never replaces one) with exactly these bytes and permission bits. */
  createFile(path: string, data: Buffer, mode: number): Promise<void>;
  /** Gives a file an owner (only possible where Airlock may; a failure is reported, not ignored). */
  chown(path: string, uid: number, gid: number): Promise<void>;
  /** Replaces `to` with `from` in one step: readers see the old file or the new one, never a mix. */
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** The user the host runs operations as (0 for root). */
  uid(): Promise<number>;
}
