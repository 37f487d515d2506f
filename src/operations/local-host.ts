import { constants, type Stats } from 'node:fs';
import { chown, lstat, open, realpath, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runLocal, type ExecLimits } from '../executors/local.js';
import type { Spawner } from '../executors/spawner.js';
import type { FileInfo, Host } from './host.js';

function typeOf(stats: Stats): FileInfo['type'] {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  return 'other';
}

/** The machine Airlock runs on, through node:fs and the spawner. */
export class LocalHost implements Host {
  constructor(
    private readonly limits: ExecLimits,
    private readonly spawner?: Spawner,
  ) {}

  exec(argv: readonly string[]) {
    return runLocal({ kind: 'exec', argv }, this.limits, this.spawner);
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const stats = await lstat(path);
      return { type: typeOf(stats), size: stats.size, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  realpath(path: string): Promise<string> {
    return realpath(path);
  }

  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    // O_NOFOLLOW: the path was checked to hold no link, and must not become one in between.
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const buffer = Buffer.alloc(maxBytes);
      let filled = 0;
      while (filled < maxBytes) {
        const { bytesRead } = await handle.read(buffer, filled, maxBytes - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async createFile(path: string, data: Buffer, mode: number): Promise<void> {
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      await handle.writeFile(data);
      // The umask may have narrowed the mode asked for.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return chown(path, uid, gid);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
    // The rename itself must reach the disk before the operation reports success.
    const directory = await open(dirname(to), constants.O_RDONLY);
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  remove(path: string): Promise<void> {
    return unlink(path);
  }

  async uid(): Promise<number> {
    return process.getuid?.() ?? -1;
  }
}
