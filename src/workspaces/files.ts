import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, lstat, open, readdir, readlink, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { AirlockError } from '../errors.js';
import { Confinement, isGitName, parsePath, printable, typeOf, type EntryType, type Resolved } from './confine.js';

export interface FileLimits {
  /** The most bytes the workspace may hold. */
  readonly quotaBytes: number;
  /** The most bytes one read returns. */
  readonly maxReadBytes: number;
}

export interface Entry {
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
  readonly modified: string;
  readonly link_target?: string;
}

/** Temporary files of atomic writes: never listed, never counted twice. */
const TEMP_PREFIX = '.airlock-tmp-';
const CHUNK = 64 * 1024;
const MAX_LIST = 5000;
const MAX_SEARCH_FILES = 20_000;

/** One writer at a time per workspace, so quota checks and writes never interleave (within this process). */
const locks = new Map<string, Promise<unknown>>();
export async function exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const run = before.then(work, work);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** The bytes a folder holds: regular files and links (their own size), never following links. */
export async function usageOf(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      const at = join(current, entry.name);
      if (entry.isDirectory()) {
        pending.push(at);
        continue;
      }
      try {
        total += (await lstat(at)).size;
      } catch {
        // gone meanwhile
      }
    }
  }
  return total;
}

/** Refuses a path (as given, and as resolved through links) inside a .git folder. */
function refuseGit(names: readonly string[], path: string): void {
  if (names.some(isGitName)) {
    throw new AirlockError('path_git_internal', `${printable(path)} is inside a .git folder: only the git tools change it`, { status: 403, details: { path: printable(path) } });
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function entryOf(confinement: Confinement, real: string, stats: Stats, linkTarget?: string): Entry {
  return {
    path: confinement.display(real),
    type: typeOf(stats),
    size: stats.size,
    modified: stats.mtime.toISOString(),
    ...(linkTarget !== undefined ? { link_target: linkTarget } : {}),
  };
}

/**
 * The file tools of one workspace: every path confined (see Confinement), reads capped, writes atomic
 * (a new file renamed over the old one, so a failed or refused write leaves nothing behind) and within
 * the quota, and nothing under a `.git` folder changed except by the git tools.
 */
export class WorkspaceFiles {
  constructor(
    readonly confinement: Confinement,
    readonly limits: FileLimits,
  ) {}

  get root(): string {
    return this.confinement.root;
  }

  /** Runs `work` as the only writer of this workspace. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return exclusive(this.root, work);
  }

  usage(): Promise<number> {
    return usageOf(this.root);
  }

  /** Refuses a change that would take the workspace over its quota. */
  async ensureRoom(adding: number, path: string): Promise<void> {
    if (adding <= 0) return;
    const used = await this.usage();
    if (used + adding > this.limits.quotaBytes) {
      throw new AirlockError('quota_exceeded', `writing ${printable(path)} needs ${adding} more bytes; the workspace holds ${used} of its ${this.limits.quotaBytes}: refused, nothing was written`, {
        status: 413,
        details: { used_bytes: used, quota_bytes: this.limits.quotaBytes, needed_bytes: adding },
      });
    }
  }

  async stat(path: string): Promise<Entry & { mode: string; nlink: number }> {
    const resolved = await this.confinement.existing(path, { allowRoot: true, follow: false });
    const target = resolved.stats.isSymbolicLink() ? await readlink(resolved.real) : undefined;
    if (target !== undefined) {
      // Says where it points and whether following it would be allowed, without following it out.
      await this.confinement.existing(path, { allowRoot: true });
    }
    return { ...entryOf(this.confinement, resolved.real, resolved.stats, target), mode: (resolved.stats.mode & 0o7777).toString(8).padStart(4, '0'), nlink: resolved.stats.nlink };
  }

  async list(path: string, options: { recursive?: boolean; maxEntries?: number } = {}): Promise<{ path: string; entries: Entry[]; truncated: boolean }> {
    const resolved = await this.confinement.existing(path, { allowRoot: true });
    if (!resolved.stats.isDirectory()) throw new AirlockError('not_a_directory', `${printable(resolved.path)} is not a folder`, { status: 400 });
    const limit = Math.min(options.maxEntries ?? 1000, MAX_LIST);
    const entries: Entry[] = [];
    const pending = [resolved.real];
    let truncated = false;
    while (pending.length > 0 && !truncated) {
      const dir = pending.shift() as string;
      const names = (await readdir(dir)).sort();
      for (const name of names) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        if (entries.length >= limit) {
          truncated = true;
          break;
        }
        const at = join(dir, name);
        let stats: Stats;
        try {
          stats = await lstat(at);
        } catch {
          continue;
        }
        entries.push(entryOf(this.confinement, at, stats, stats.isSymbolicLink() ? await readlink(at).catch(() => '') : undefined));
        if (options.recursive && stats.isDirectory() && !isGitName(name)) pending.push(at);
      }
    }
    return { path: resolved.path, entries, truncated };
  }

  /**
   * Reads a file, or part of it: bytes from `offset` (at most `length`), or lines `startLine`..`endLine`
   * (1-based, inclusive). Never more than maxReadBytes; says when it stopped early.
   */
  async read(
    path: string,
    options: { offset?: number; length?: number; startLine?: number; endLine?: number; encoding?: 'utf8' | 'base64' } = {},
  ): Promise<{ path: string; size: number; content: string; encoding: 'utf8' | 'base64'; truncated: boolean; offset?: number; bytes: number; start_line?: number; end_line?: number; total_lines?: number }> {
    const resolved = await this.confinement.existing(path);
    const { handle, stats } = await this.confinement.openForRead(resolved);
    const cap = this.limits.maxReadBytes;
    try {
      if (options.startLine !== undefined || options.endLine !== undefined) {
        const first = options.startLine ?? 1;
        const last = options.endLine ?? Number.MAX_SAFE_INTEGER;
        if (last < first) throw new AirlockError('invalid_range', `end_line ${last} comes before start_line ${first}`, { status: 400 });
        const picked: Buffer[] = [];
        let bytes = 0;
        let line = 1;
        let truncated = false;
        let position = 0;
        let lastLine = 0;
        const buffer = Buffer.alloc(CHUNK);
        let carry = Buffer.alloc(0);
        const take = (text: Buffer): void => {
          if (line >= first && line <= last && !truncated) {
            if (bytes + text.length > cap) {
              truncated = true;
              return;
            }
            picked.push(text);
            bytes += text.length;
            lastLine = line;
          }
        };
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
          if (bytesRead === 0) break;
          position += bytesRead;
          let data = Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
          let newline = data.indexOf(10);
          while (newline >= 0) {
            take(data.subarray(0, newline + 1));
            line += 1;
            data = data.subarray(newline + 1);
            newline = data.indexOf(10);
          }
          carry = Buffer.from(data);
          if (line > last || truncated) break;
          if (carry.length > cap) {
            take(carry);
            carry = Buffer.alloc(0);
          }
        }
        if (carry.length > 0) take(carry);
        const content = Buffer.concat(picked);
        const totalLines = position >= stats.size ? (carry.length > 0 ? line : line - 1) : undefined;
        return {
          path: resolved.path,
          size: stats.size,
          ...this.encode(content, options.encoding),
          truncated,
          bytes: content.length,
          start_line: first,
          end_line: lastLine || first - 1,
          ...(totalLines !== undefined ? { total_lines: totalLines } : {}),
        };
      }
      const offset = options.offset ?? 0;
      const wanted = Math.min(options.length ?? cap, cap, Math.max(0, stats.size - offset));
      const buffer = Buffer.alloc(wanted);
      let read = 0;
      while (read < wanted) {
        const { bytesRead } = await handle.read(buffer, read, wanted - read, offset + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      const content = buffer.subarray(0, read);
      const truncated = offset + read < stats.size && (options.length === undefined || options.length > read);
      return { path: resolved.path, size: stats.size, ...this.encode(content, options.encoding), truncated, offset, bytes: read };
    } finally {
      await handle.close();
    }
  }

  private encode(content: Buffer, wanted: 'utf8' | 'base64' | undefined): { content: string; encoding: 'utf8' | 'base64' } {
    if (wanted !== 'base64') {
      const text = content.toString('utf8');
      // Bytes that are not UTF-8 come back as base64 rather than mangled.
      if (Buffer.from(text, 'utf8').equals(content)) return { content: text, encoding: 'utf8' };
    }
    return { content: content.toString('base64'), encoding: 'base64' };
  }

  /** Writes a whole file atomically, within the quota. */
  async write(path: string, data: Buffer, options: { createParents?: boolean; overwrite?: boolean } = {}): Promise<{ path: string; size: number; sha256: string; created: boolean }> {
    refuseGit(parsePath(path), path);
    return this.exclusive(async () => {
      let place: Awaited<ReturnType<Confinement['placement']>>;
      try {
        place = await this.confinement.placement(path);
      } catch (error) {
        if (!(error instanceof AirlockError && error.code === 'not_found' && options.createParents !== false)) throw error;
        // Missing folders are made only for a write that fits, so a refused write leaves not even them.
        await this.ensureRoom(data.length, path);
        place = await this.confinement.placement(path, { createParents: true });
      }
      refuseGit(place.path.split('/'), path);
      if (place.existing) {
        if (options.overwrite === false) throw new AirlockError('already_exists', `${printable(place.path)} exists (overwrite is off)`, { status: 409 });
        this.confinement.regularFile(place.existing, place.path);
      }
      await this.ensureRoom(data.length - (place.existing?.size ?? 0), place.path);
      await this.replace(place.dir, place.name, data, place.existing);
      return { path: place.path, size: data.length, sha256: sha256(data), created: place.existing === undefined };
    });
  }

  /** Replaces exactly one occurrence of `oldText` (or every one with `replaceAll`), atomically, within the quota. */
  async edit(path: string, oldText: string, newText: string, options: { replaceAll?: boolean } = {}): Promise<{ path: string; replacements: number; size: number; sha256: string }> {
    refuseGit(parsePath(path), path);
    if (oldText === '') throw new AirlockError('invalid_edit', 'old_string must not be empty', { status: 400 });
    return this.exclusive(async () => {
      const resolved = await this.confinement.existing(path);
      refuseGit(resolved.path.split('/'), path);
      const { handle, stats } = await this.confinement.openForRead(resolved);
      let text: string;
      try {
        if (stats.size > this.limits.maxReadBytes * 8) throw new AirlockError('file_too_large', `${printable(resolved.path)} is ${stats.size} bytes: too large to edit here (at most ${this.limits.maxReadBytes * 8})`, { status: 413 });
        const bytes = await handle.readFile();
        text = bytes.toString('utf8');
        if (!Buffer.from(text, 'utf8').equals(bytes)) throw new AirlockError('not_text', `${printable(resolved.path)} is not UTF-8 text`, { status: 400 });
      } finally {
        await handle.close();
      }
      const count = text.split(oldText).length - 1;
      if (count === 0) throw new AirlockError('edit_not_found', `old_string does not occur in ${printable(resolved.path)}`, { status: 409 });
      if (count > 1 && !options.replaceAll) throw new AirlockError('edit_ambiguous', `old_string occurs ${count} times in ${printable(resolved.path)}: give more context, or set replace_all`, { status: 409 });
      const updated = Buffer.from(options.replaceAll ? text.split(oldText).join(newText) : text.replace(oldText, () => newText), 'utf8');
      await this.ensureRoom(updated.length - stats.size, resolved.path);
      const slash = resolved.real.lastIndexOf('/');
      await this.replace(resolved.real.slice(0, slash), resolved.real.slice(slash + 1), updated, stats);
      return { path: resolved.path, replacements: options.replaceAll ? count : 1, size: updated.length, sha256: sha256(updated) };
    });
  }

  /** A new file beside the target, checked, written, synced and renamed over it; removed if anything fails. */
  private async replace(dir: string, name: string, data: Buffer, existing: Stats | undefined): Promise<void> {
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    let done = false;
    try {
      await this.confinement.verifyHandle(handle, this.confinement.display(join(dir, name)));
      await handle.writeFile(data);
      if (existing) await chmod(temp, existing.mode & 0o777);
      await handle.sync();
      await handle.close();
      await rename(temp, join(dir, name));
      done = true;
    } finally {
      if (!done) {
        await handle.close().catch(() => undefined);
        await unlink(temp).catch(() => undefined);
      }
    }
  }

  /** Moves or renames an entry inside the workspace; links are moved as links. */
  async move(from: string, to: string, options: { overwrite?: boolean; createParents?: boolean } = {}): Promise<{ from: string; to: string }> {
    refuseGit(parsePath(from), from);
    refuseGit(parsePath(to), to);
    return this.exclusive(async () => {
      const source = await this.confinement.existing(from, { follow: false });
      const place = await this.confinement.placement(to, { createParents: options.createParents ?? false, followLast: false });
      refuseGit([...source.path.split('/'), ...place.path.split('/')], `${from} → ${to}`);
      if (place.existing) {
        if (!options.overwrite) throw new AirlockError('already_exists', `${printable(place.path)} exists (overwrite is off)`, { status: 409 });
        if (place.existing.isDirectory()) throw new AirlockError('is_a_directory', `${printable(place.path)} is a folder: move into it by naming the new path inside it`, { status: 409 });
      }
      if (source.stats.isDirectory() && (place.real === source.real || place.real.startsWith(`${source.real}/`))) {
        throw new AirlockError('invalid_move', `cannot move ${printable(source.path)} into itself`, { status: 400 });
      }
      await rename(source.real, place.real);
      return { from: source.path, to: place.path };
    });
  }

  /** Deletes a file or link (the link itself), or a folder (with everything in it only when `recursive`). */
  async delete(path: string, options: { recursive?: boolean } = {}): Promise<{ path: string; type: EntryType; freed_bytes: number }> {
    refuseGit(parsePath(path), path);
    return this.exclusive(async () => {
      const target = await this.confinement.existing(path, { follow: false });
      refuseGit(target.path.split('/'), path);
      if (target.stats.isDirectory()) {
        const freed = await usageOf(target.real);
        if (options.recursive) await rm(target.real, { recursive: true, force: false });
        else {
          try {
            await rmdir(target.real);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY') throw new AirlockError('directory_not_empty', `${printable(target.path)} is not empty: set recursive to delete it with everything in it`, { status: 409 });
            throw error;
          }
        }
        return { path: target.path, type: 'directory', freed_bytes: freed };
      }
      await unlink(target.real);
      return { path: target.path, type: typeOf(target.stats), freed_bytes: target.stats.size };
    });
  }

  /**
   * Finds files by glob (on their path from the root) and, with `text`, the lines that contain it (a
   * literal string, or a regular expression with `regex`). Links are not followed; .git folders,
   * files with several links and files larger than maxReadBytes are not searched inside.
   */
  async search(options: { path?: string; glob?: string; text?: string; regex?: boolean; caseSensitive?: boolean; maxResults?: number; includeGit?: boolean }): Promise<{
    matches: Array<{ path: string; line?: number; text?: string }>;
    truncated: boolean;
    files_searched: number;
  }> {
    const base = await this.confinement.existing(options.path ?? '.', { allowRoot: true });
    if (!base.stats.isDirectory()) throw new AirlockError('not_a_directory', `${printable(base.path)} is not a folder`, { status: 400 });
    // A pattern without / matches names anywhere (picomatch's basename mode, which patterns with / must not get).
    const matchGlob = options.glob ? picomatch(options.glob, { dot: true, basename: !options.glob.includes('/') }) : () => true;
    let pattern: RegExp | undefined;
    if (options.text !== undefined) {
      const source = options.regex ? options.text : options.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      try {
        pattern = new RegExp(source, options.caseSensitive === false ? 'i' : '');
      } catch (error) {
        throw new AirlockError('invalid_regex', `not a regular expression: ${(error as Error).message}`, { status: 400 });
      }
    }
    const limit = Math.min(options.maxResults ?? 200, 2000);
    const matches: Array<{ path: string; line?: number; text?: string }> = [];
    let searched = 0;
    let truncated = false;
    const pending = [base.real];
    outer: while (pending.length > 0) {
      const dir = pending.shift() as string;
      for (const name of (await readdir(dir)).sort()) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        const at = join(dir, name);
        let stats: Stats;
        try {
          stats = await lstat(at);
        } catch {
          continue;
        }
        const path = this.confinement.display(at);
        if (stats.isDirectory()) {
          if (!isGitName(name) || options.includeGit) pending.push(at);
          continue;
        }
        if (!matchGlob(path)) continue;
        if (!pattern) {
          matches.push({ path });
          if (matches.length >= limit) {
            truncated = true;
            break outer;
          }
          continue;
        }
        if (!stats.isFile() || stats.nlink > 1 || stats.size > this.limits.maxReadBytes) continue;
        if (++searched > MAX_SEARCH_FILES) {
          truncated = true;
          break outer;
        }
        const resolved: Resolved = { real: at, path, stats };
        let content: Buffer;
        try {
          const { handle } = await this.confinement.openForRead(resolved);
          try {
            content = await handle.readFile();
          } finally {
            await handle.close();
          }
        } catch {
          continue;
        }
        if (content.includes(0)) continue; // binary
        const lines = content.toString('utf8').split('\n');
        for (const [index, line] of lines.entries()) {
          if (!pattern.test(line)) continue;
          matches.push({ path, line: index + 1, text: line.length > 500 ? `${line.slice(0, 500)}…` : line });
          if (matches.length >= limit) {
            truncated = true;
            break outer;
          }
        }
      }
    }
    return { matches, truncated, files_searched: searched };
  }
}
