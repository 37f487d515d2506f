import { promisify } from 'node:util';
import type { SFTPWrapper, Stats } from 'ssh2';
import { AirlockError } from '../errors.js';
import type { ExecLimits } from '../executors/local.js';
import type { SshExecutor } from '../executors/ssh.js';
import type { FileInfo, Host } from './host.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02): end of file and "no such file" are answers, not failures. */
const EOF = 1;
const NO_SUCH_FILE = 2;
/** One SFTP write packet's worth: OpenSSH takes up to 256 KiB, 32 KiB is what every server accepts. */
const CHUNK = 32 * 1024;

const S_IFMT = 0o170000;
function typeOf(mode: number): FileInfo['type'] {
  switch (mode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

/** An SFTP failure as the file operations report it: ENOENT-like codes where the protocol has them. */
function sftpError(error: unknown, path: string): Error {
  const code = (error as { code?: number }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === NO_SUCH_FILE) return Object.assign(new Error(`${path}: no such file`), { code: 'ENOENT' });
  return new AirlockError('sftp_failed', `${path}: ${message}`, { status: 502 });
}

/**
 * An SSH target as a host: commands through the executor's pooled connection, files through one SFTP
 * session. Renames use OpenSSH's posix-rename extension, which replaces the target in one step (plain
 * SFTP rename refuses an existing target); fsync uses fsync@openssh.com where the server offers it.
 */
export class SshHost implements Host {
  private ownUid: number | undefined;

  constructor(
    private readonly executor: SshExecutor,
    private readonly sftp: SFTPWrapper,
    private readonly limits: ExecLimits,
  ) {}

  exec(argv: readonly string[]) {
    return this.executor.run({ kind: 'exec', argv }, this.limits);
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const stats = await promisify<string, Stats>(this.sftp.lstat.bind(this.sftp))(path);
      return { type: typeOf(stats.mode), size: stats.size, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
    } catch (error) {
      if ((error as { code?: number }).code === NO_SUCH_FILE) return undefined;
      throw sftpError(error, path);
    }
  }

  async realpath(path: string): Promise<string> {
    try {
      return await promisify<string, string>(this.sftp.realpath.bind(this.sftp))(path);
    } catch (error) {
      throw sftpError(error, path);
    }
  }

  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const handle = await this.open(path, 'r');
    try {
      const buffer = Buffer.alloc(maxBytes);
      let filled = 0;
      while (filled < maxBytes) {
        const read = await new Promise<number>((resolve, reject) =>
          this.sftp.read(handle, buffer, filled, Math.min(CHUNK, maxBytes - filled), filled, (error, bytesRead) => {
            if (!error) resolve(bytesRead);
            else if ((error as { code?: number }).code === EOF) resolve(0);
            else reject(sftpError(error, path));
          }),
        );
        if (read === 0) break;
        filled += read;
      }
      return buffer.subarray(0, filled);
    } finally {
      await this.close(handle);
    }
  }

  async createFile(path: string, data: Buffer, mode: number): Promise<void> {
    const handle = await this.open(path, 'wx', mode);
    try {
      for (let offset = 0; offset < data.length; offset += CHUNK) {
        const length = Math.min(CHUNK, data.length - offset);
        await new Promise<void>((resolve, reject) => this.sftp.write(handle, data, offset, length, offset, (error) => (error ? reject(sftpError(error, path)) : resolve())));
      }
      // The server's umask may have narrowed the mode asked for.
      await new Promise<void>((resolve, reject) => this.sftp.fchmod(handle, mode, (error) => (error ? reject(sftpError(error, path)) : resolve())));
      await new Promise<void>((resolve) => {
        try {
          this.sftp.ext_openssh_fsync(handle, () => resolve());
        } catch {
          resolve(); // the server does not offer fsync@openssh.com
        }
      });
    } finally {
      await this.close(handle);
    }
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await new Promise<void>((resolve, reject) => this.sftp.chown(path, uid, gid, (error) => (error ? reject(sftpError(error, path)) : resolve())));
  }

  async rename(from: string, to: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      try {
        this.sftp.ext_openssh_rename(from, to, (error) => (error ? reject(sftpError(error, to)) : resolve()));
      } catch (error) {
        reject(new AirlockError('sftp_failed', `the SSH server does not offer posix-rename@openssh.com, so ${to} cannot be replaced atomically: ${String(error)}`, { status: 502 }));
      }
    });
  }

  async remove(path: string): Promise<void> {
    await new Promise<void>((resolve, reject) => this.sftp.unlink(path, (error) => (error ? reject(sftpError(error, path)) : resolve())));
  }

  async uid(): Promise<number> {
    if (this.ownUid === undefined) {
      const result = await this.exec(['id', '-u']);
      this.ownUid = result.status === 'succeeded' ? Number(result.stdout.toString('utf8').trim()) : -1;
    }
    return this.ownUid;
  }

  private open(path: string, flags: 'r' | 'wx', mode?: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | undefined, handle: Buffer): void => (error ? reject(sftpError(error, path)) : resolve(handle));
      if (mode === undefined) this.sftp.open(path, flags, done);
      else this.sftp.open(path, flags, { mode }, done);
    });
  }

  private close(handle: Buffer): Promise<void> {
    return new Promise((resolve) => this.sftp.close(handle, () => resolve()));
  }
}
