import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { AirlockError } from '../errors.js';

/** Linux's limits: a whole path, and one name in it. */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Percent-encoded dots, slashes, backslashes, NULs and overlong or double encodings of them. */
const ENCODED = /%(2e|2f|5c|00|25|c0|c1|e0|f0|u002e|u002f|u2215|uff0e)/i;
const SEPARATORS = /[/\\]/;

function refused(code: string, message: string, path: string, status = 400): AirlockError {
  return new AirlockError(code, message, { status, details: { path: printable(path) } });
}

/** A path as it may appear in a message: control characters and NUL shown as escapes, long ones cut. */
export function printable(path: string): string {
  const shown = JSON.stringify(path).slice(1, -1);
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}

/**
 * Checks a workspace path as text, before the file system is asked anything, and returns its names.
 * Paths are relative to the workspace root and taken literally: no decoding, no normalisation, no
 * `~`. Refused: NUL and other control characters, malformed Unicode, absolute paths, `..`,
 * backslashes, percent-encoded separators or dots, names that Unicode normalisation (NFKC) would turn
 * into `.`, `..` or a separator, and paths or names longer than Linux allows. `""` and `"."` name the
 * root, which only some operations accept.
 */
export function parsePath(input: unknown, options: { allowRoot?: boolean } = {}): string[] {
  if (typeof input !== 'string') throw refused('path_invalid', 'a path must be a string', String(input));
  if (input.includes('\0')) throw refused('path_invalid', `the path ${printable(input)} contains a NUL character`, input);
  if (CONTROL.test(input)) throw refused('path_invalid', `the path ${printable(input)} contains a control character`, input);
  if (LONE_SURROGATE.test(input)) throw refused('path_invalid', `the path ${printable(input)} is not valid Unicode`, input);
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) throw refused('path_too_long', `the path is longer than ${MAX_PATH_BYTES} bytes`, input);
  if (input.startsWith('/')) throw refused('path_absolute', `absolute paths are refused (${printable(input)}): give a path relative to the workspace root`, input);
  if (/^[A-Za-z]:/.test(input)) throw refused('path_absolute', `drive paths are refused (${printable(input)}): give a path relative to the workspace root`, input);
  if (input.includes('\\')) throw refused('path_invalid', `backslashes are refused (${printable(input)}): separate names with /`, input);
  if (ENCODED.test(input)) throw refused('path_encoded', `the path ${printable(input)} looks percent-encoded: paths are taken literally, send them decoded`, input);
  const names = input.split('/').filter((name) => name !== '' && name !== '.');
  for (const name of names) {
    if (name === '..') throw refused('path_traversal', `".." is refused (${printable(input)}): paths stay inside the workspace`, input);
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw refused('path_too_long', `a name in the path is longer than ${MAX_NAME_BYTES} bytes`, input);
    const normalised = name.normalize('NFKC');
    if (normalised !== name && (normalised === '.' || normalised === '..' || SEPARATORS.test(normalised) || normalised.split(SEPARATORS).includes('..'))) {
      throw refused('path_unicode', `the name ${printable(name)} becomes ${printable(normalised)} under Unicode normalisation: refused`, input);
    }
  }
  if (names.length === 0 && !options.allowRoot) throw refused('path_invalid', 'this operation needs a path below the workspace root, not the root itself', input);
  return names;
}

/** True when a name is git's own folder (`.git`, in any case or normalisation): only the git tools change it. */
export function isGitName(name: string): boolean {
  return name.normalize('NFKC').toLowerCase() === '.git';
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export function typeOf(stats: Stats): EntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** An entry found inside the workspace: its real path, its path from the root, and what lstat says of it. */
export interface Resolved {
  /** Absolute, without symbolic links. */
  readonly real: string;
  /** From the workspace root, `.` for the root. */
  readonly path: string;
  readonly stats: Stats;
}

/** Where a new entry would go: its folder (real, inside), its name, and what is there now, if anything. */
export interface Placement {
  readonly dir: string;
  readonly name: string;
  /** The real path the entry has or will have. */
  readonly real: string;
  readonly path: string;
  /** lstat of what is there now (after following a symbolic link that stays inside). */
  readonly existing: Stats | undefined;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * One workspace's root, and every way into it. Each path is checked as text (`parsePath`), then
 * resolved name by name: a symbolic link is followed only when its real target stays inside the root,
 * so links pointing out, link chains that end outside and linked parent folders are refused. Content is
 * only read or written through descriptors opened without following links and checked again through
 * /proc/self/fd, so an entry swapped for a link in between is caught too. Files with more than one
 * hard link (whose other names may be outside), devices, FIFOs and sockets are refused.
 */
export class Confinement {
  private constructor(readonly root: string) {}

  /** The confinement of a folder (its real path). */
  static async of(dir: string): Promise<Confinement> {
    return new Confinement(await realpath(dir));
  }

  inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root + sep);
  }

  /** A real path as the workspace names it. */
  display(real: string): string {
    return relative(this.root, real) || '.';
  }

  private async realInside(candidate: string, input: string): Promise<string> {
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw refused('path_escapes', `${printable(input)} goes through a symbolic link whose target does not exist`, input, 403);
      if (errnoOf(error) === 'ELOOP') throw refused('path_escapes', `${printable(input)} goes through a loop of symbolic links`, input, 403);
      throw error;
    }
    if (!this.inside(real)) throw refused('path_escapes', `${printable(input)} leads outside the workspace (through a symbolic link): refused`, input, 403);
    return real;
  }

  /**
   * The real folder of the given names, each step checked; missing folders are made (mode 0755) when
   * `create` is set, otherwise they are `not_found`.
   */
  async folder(names: readonly string[], input: string, create = false): Promise<string> {
    let current = this.root;
    for (const name of names) {
      const next = join(current, name);
      let stats: Stats;
      try {
        stats = await lstat(next);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
        if (!create) throw refused('not_found', `${printable(this.display(next))} does not exist`, input, 404);
        await mkdir(next, { mode: 0o755 });
        current = next;
        continue;
      }
      if (stats.isSymbolicLink()) {
        current = await this.realInside(next, input);
        const target = await lstat(current);
        if (!target.isDirectory()) throw refused('not_a_directory', `${printable(this.display(next))} is not a folder`, input);
      } else if (stats.isDirectory()) {
        current = next;
      } else {
        throw refused('not_a_directory', `${printable(this.display(next))} is not a folder`, input);
      }
    }
    return current;
  }

  /** An entry that must exist; symbolic links are followed (inside only) unless `follow` is false for the last name. */
  async existing(input: unknown, options: { allowRoot?: boolean; follow?: boolean } = {}): Promise<Resolved> {
    const names = parsePath(input, options);
    const text = input as string;
    if (names.length === 0) return { real: this.root, path: '.', stats: await lstat(this.root) };
    const dir = await this.folder(names.slice(0, -1), text);
    const at = join(dir, names[names.length - 1] as string);
    let stats: Stats;
    try {
      stats = await lstat(at);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw refused('not_found', `${printable(this.display(at))} does not exist`, text, 404);
      throw error;
    }
    if (stats.isSymbolicLink() && options.follow !== false) {
      const real = await this.realInside(at, text);
      return { real, path: this.display(real), stats: await lstat(real) };
    }
    return { real: at, path: this.display(at), stats };
  }

  /** Where an entry is to be written or moved to; its folders are made when `createParents` is set. */
  async placement(input: unknown, options: { createParents?: boolean; followLast?: boolean } = {}): Promise<Placement> {
    const names = parsePath(input);
    const text = input as string;
    const dir = await this.folder(names.slice(0, -1), text, options.createParents ?? false);
    const name = names[names.length - 1] as string;
    const at = join(dir, name);
    let existing: Stats | undefined;
    try {
      existing = await lstat(at);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    if (existing?.isSymbolicLink() && options.followLast !== false) {
      const real = await this.realInside(at, text);
      const stats = await lstat(real);
      return { dir: real.slice(0, real.lastIndexOf(sep)) || sep, name: real.slice(real.lastIndexOf(sep) + 1), real, path: this.display(real), existing: stats };
    }
    return { dir, name, real: at, path: this.display(at), existing };
  }

  /** Refuses anything but a regular file with one link. */
  regularFile(stats: Stats, path: string): void {
    if (stats.isDirectory()) throw refused('is_a_directory', `${printable(path)} is a folder`, path);
    if (!stats.isFile()) throw refused('path_not_regular', `${printable(path)} is a ${stats.isSymbolicLink() ? 'symbolic link' : 'device, FIFO or socket'}: only regular files are read or written`, path, 403);
    if (stats.nlink > 1) throw refused('path_hard_link', `${printable(path)} has ${stats.nlink} hard links (another may be outside the workspace): refused`, path, 403);
  }

  /** Checks, through /proc, that an open descriptor is a regular file inside the root (catches swaps since the check). */
  async verifyHandle(handle: FileHandle, path: string): Promise<Stats> {
    const stats = await handle.stat();
    this.regularFile(stats, path);
    let real: string | undefined;
    try {
      real = await readlink(`/proc/self/fd/${handle.fd}`);
    } catch {
      real = undefined; // no /proc: the checks above stand alone
    }
    if (real !== undefined && !this.inside(real)) throw refused('path_escapes', `${printable(path)} changed into something outside the workspace while it was opened`, path, 403);
    return stats;
  }

  /** Opens a regular file inside the root for reading, never through a link. */
  async openForRead(resolved: Resolved): Promise<{ handle: FileHandle; stats: Stats }> {
    this.regularFile(resolved.stats, resolved.path);
    let handle: FileHandle;
    try {
      handle = await open(resolved.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      if (errnoOf(error) === 'ELOOP') throw refused('path_escapes', `${printable(resolved.path)} became a symbolic link`, resolved.path, 403);
      throw error;
    }
    try {
      return { handle, stats: await this.verifyHandle(handle, resolved.path) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
}
