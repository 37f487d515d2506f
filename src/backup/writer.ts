import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import { AirlockError } from '../errors.js';

/** Lines are gathered into chunks of about this size before they go to gzip. */
const CHUNK = 64 * 1024;

export interface WrittenBackup {
  readonly file: string;
  readonly bytes: number;
  /** sha256 of the file as written (what `sha256sum FILE` prints). */
  readonly fileSha256: string;
  /** sha256 of the uncompressed lines before the end line (what the end line carries). */
  readonly contentSha256: string;
}

/**
 * Writes a backup file: JSON lines, hashed as they go, gzip-compressed into a temporary file beside
 * the destination (mode 0600), which is flushed to disk and renamed over the destination only once
 * complete, so FILE is either the previous file or a whole new backup, never half of one.
 */
export class BackupWriter {
  private readonly content: Hash = createHash('sha256');
  private readonly fileHash: Hash = createHash('sha256');
  private readonly gzip: Gzip = createGzip({ level: 6 });
  private readonly done: Promise<void>;
  private pending: string[] = [];
  private pendingSize = 0;
  private bytes = 0;

  private constructor(
    private readonly file: string,
    private readonly temp: string,
  ) {
    const out: Writable = createWriteStream(temp, { flags: 'r+' });
    const tap = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.fileHash.update(chunk);
        this.bytes += chunk.length;
        callback(null, chunk);
      },
    });
    this.done = pipeline(this.gzip, tap, out);
    // Failures surface from write() or finish(); never as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Opens the temporary file; refuses an existing destination unless `force`. */
  static async create(file: string, options: { force: boolean }): Promise<BackupWriter> {
    const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    if (!options.force) {
      const existing = await open(file, 'r').catch(() => undefined);
      if (existing) {
        await existing.close();
        throw new AirlockError('backup_output_exists', `${file} already exists; choose another name or pass --force to replace it`);
      }
    }
    try {
      // Made empty and private first; the stream then writes into it.
      await (await open(temp, 'wx', 0o600)).close();
    } catch (error) {
      throw new AirlockError('backup_output_unwritable', `cannot write the backup in ${dirname(file)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return new BackupWriter(file, temp);
  }

  /** Appends one JSON line (an object or a row array). */
  async write(value: unknown): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    this.pending.push(line);
    this.pendingSize += line.length;
    if (this.pendingSize >= CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingSize = 0;
    this.content.update(chunk);
    if (!this.gzip.write(chunk)) {
      await Promise.race([new Promise<void>((resolve) => this.gzip.once('drain', resolve)), this.done]);
    }
  }

  /** Writes the end line with the content's sha256, flushes the file to disk and renames it into place. */
  async finish(): Promise<WrittenBackup> {
    await this.flush();
    const contentSha256 = this.content.digest('hex');
    const end = Buffer.from(`${JSON.stringify({ type: 'end', sha256: contentSha256 })}\n`, 'utf8');
    this.gzip.end(end);
    await this.done;
    const written = await open(this.temp, 'r+');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
    await rename(this.temp, this.file);
    // The rename itself reaches the disk with the folder.
    const folder = await open(dirname(this.file), 'r');
    await folder.sync().catch(() => undefined);
    await folder.close();
    return { file: this.file, bytes: this.bytes, fileSha256: this.fileHash.digest('hex'), contentSha256 };
  }

  /** Gives up: removes the temporary file; the destination is untouched. */
  async abort(): Promise<void> {
    this.gzip.destroy();
    await this.done.catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}
