import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { AirlockError } from '../errors.js';
import { SCRUBBED_ENV } from '../executors/local.js';
import { Confinement, isGitName, parsePath, printable } from './confine.js';
import { usageOf, type WorkspaceFiles } from './files.js';

/** The system git; nothing else is ever run by the git tools. */
export const GIT = existsSync('/usr/bin/git') ? '/usr/bin/git' : 'git';

/**
 * Given before every git command, over anything a repository's own config says: no hooks, no
 * fsmonitor, no pager or editor, no credential helpers, no network (only local `file` transport),
 * no automatic maintenance, no signing programs.
 */
export const SAFE_GIT_OPTIONS: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.pager=cat',
  'core.editor=false',
  'core.sshCommand=false',
  'core.askPass=false',
  'credential.helper=',
  'protocol.allow=never',
  'protocol.file.allow=always',
  'submodule.recurse=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'color.ui=false',
  'advice.detachedHead=false',
  // Files the container writes as its own user are still the workspace's: the config check below stands in.
  'safe.directory=*',
].flatMap((option) => ['-c', option]);

/** What git sees of the environment: no global or system config, no prompts, literal pathspecs. */
export function gitEnvironment(home: string, ceiling: string): Record<string, string> {
  return {
    ...SCRUBBED_ENV,
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    GIT_PAGER: 'cat',
    GIT_EDITOR: 'false',
    GIT_ALLOW_PROTOCOL: 'file',
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_CEILING_DIRECTORIES: ceiling,
    GIT_OPTIONAL_LOCKS: '0',
  };
}

/**
 * Keys a repository's own .git/config may set. Anything else (filters, diff and merge drivers,
 * `core.worktree`, `include.*`, `extensions.worktreeConfig`, aliases, helpers…) can run programs or
 * reach outside the workspace, and makes every git tool refuse the repository.
 */
const ALLOWED_CONFIG = [
  /^core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks|autocrlf|eol|safecrlf|quotepath|checkstat|trustctime|untrackedcache|compression|loosecompression|abbrev)$/,
  /^extensions\.objectformat$/,
  /^remote\..+\.(url|fetch|tagopt|mirror)$/,
  /^branch\..+\.(remote|merge|rebase|description)$/,
  /^user\.(name|email)$/,
  /^init\.defaultbranch$/,
  /^pull\.(rebase|ff)$/,
];

export interface GitResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
}

/** Names refs and branches: no option look-alikes, no revision syntax beyond the usual. */
const REF = /^(?!-)[A-Za-z0-9._/@{}~^+-]{1,200}$/;
const OUTPUT_CAP = 4 * 1024 * 1024;
const TIMEOUT_MS = 120_000;

function gitError(code: string, message: string, status = 400): AirlockError {
  return new AirlockError(code, message, { status });
}

export function checkRef(ref: string, what = 'ref'): string {
  if (!REF.test(ref) || ref.includes('..') || ref.endsWith('.lock')) throw gitError('invalid_ref', `${printable(ref)} is not an acceptable ${what} name`);
  return ref;
}

/** Runs git with an argv list (never a shell), the safe options first, a scrubbed environment, a timeout and an output cap. */
export function runGit(args: readonly string[], options: { cwd: string; env: Record<string, string>; input?: string; cap?: number; timeoutMs?: number }): Promise<GitResult> {
  const cap = options.cap ?? OUTPUT_CAP;
  return new Promise((resolve, reject) => {
    const child = spawn(GIT, [...SAFE_GIT_OPTIONS, ...args], { cwd: options.cwd, env: options.env, shell: false, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes >= cap) {
        truncated = true;
        return;
      }
      out.push(chunk.subarray(0, cap - outBytes));
      if (outBytes + chunk.length > cap) truncated = true;
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < 64 * 1024) err.push(chunk);
      errBytes += chunk.length;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new AirlockError('git_unavailable', `cannot run ${GIT}: ${error.message}`, { status: 500 }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8').trim(), truncated });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** A failed git command as a tool error: git's own words, trimmed. */
function failed(result: GitResult, what: string): AirlockError {
  const said = (result.stderr || result.stdout).split('\n').slice(0, 8).join('\n');
  return gitError('git_failed', `${what} failed (exit ${result.code ?? 'killed'}): ${said}`, 409);
}

export interface Author {
  readonly name: string;
  readonly email: string;
}

export interface LogEntry {
  readonly commit: string;
  readonly author: string;
  readonly email: string;
  readonly date: string;
  readonly subject: string;
}

/**
 * The git tools of one workspace, on top of its confined files: every repository path is confined,
 * every repository is checked before git touches it (its git folder inside the workspace, its config
 * limited to harmless keys, no alternates), clones come only from allowed folders on this machine or
 * the caller's other workspaces, and changes that grow the workspace respect its quota.
 */
export class WorkspaceGit {
  constructor(
    private readonly files: WorkspaceFiles,
    /** HOME for git: empty, private, outside the files. */
    private readonly home: string,
  ) {}

  private get confinement(): Confinement {
    return this.files.confinement;
  }

  private env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...gitEnvironment(this.home, dirname(this.confinement.root)), ...extra };
  }

  /** The real folder of a repository path (the root by default). */
  private async folderOf(path: string | undefined): Promise<{ real: string; path: string }> {
    const resolved = await this.confinement.existing(path ?? '.', { allowRoot: true });
    if (!resolved.stats.isDirectory()) throw gitError('not_a_directory', `${printable(resolved.path)} is not a folder`);
    if (resolved.path.split('/').some(isGitName)) throw gitError('path_git_internal', `${printable(resolved.path)} is inside a .git folder`, 403);
    return resolved;
  }

  /** Refuses a repository whose git folder lies outside the workspace, whose config sets anything but harmless keys, or that borrows objects from elsewhere. */
  async checkRepository(dir: string, confinement: Confinement = this.confinement): Promise<{ gitDir: string; top: string }> {
    const env = { ...gitEnvironment(this.home, dirname(confinement.root)) };
    const located = await runGit(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir', '--show-toplevel'], { cwd: dir, env });
    if (located.code !== 0) {
      throw gitError('not_a_repository', `${printable(confinement.display(dir))} is not inside a git repository (git_init or git_clone makes one)`, 404);
    }
    const [gitDir, commonDir, top] = located.stdout.split('\n');
    for (const path of [gitDir, commonDir, top]) {
      const real = path ? await realpath(path).catch(() => undefined) : undefined;
      if (!real || !confinement.inside(real)) throw gitError('path_escapes', 'the repository keeps its git data outside the workspace: refused', 403);
    }
    const real = await realpath(commonDir as string);
    for (const borrowed of ['objects/info/alternates', 'objects/info/http-alternates', 'commondir']) {
      if (await lstat(join(real, borrowed)).then(() => true, () => false)) throw gitError('git_config_refused', `the repository borrows from elsewhere (${borrowed}): refused`, 403);
    }
    const config = await runGit(['config', '--file', join(real, 'config'), '--list', '--null'], { cwd: dir, env });
    if (config.code !== 0 && config.stdout !== '') throw failed(config, 'reading the repository config');
    for (const entry of config.stdout.split('\0').filter(Boolean)) {
      const key = (entry.split('\n')[0] ?? '').toLowerCase();
      if (!ALLOWED_CONFIG.some((allowed) => allowed.test(key))) {
        throw gitError('git_config_refused', `the repository's config sets ${printable(key)}, which the workspace git tools do not allow (it could run programs or reach outside the workspace)`, 403);
      }
    }
    return { gitDir: gitDir as string, top: top as string };
  }

  /** Runs git in a checked repository; a failure is a tool error. */
  private async inRepository(path: string | undefined, args: readonly string[], what: string, extra: { input?: string; env?: Record<string, string> } = {}): Promise<GitResult & { repo: string }> {
    const folder = await this.folderOf(path);
    await this.checkRepository(folder.real);
    const result = await runGit(args, { cwd: folder.real, env: this.env(extra.env), ...(extra.input !== undefined ? { input: extra.input } : {}) });
    if (result.code !== 0) throw failed(result, what);
    return { ...result, repo: folder.path };
  }

  /** Pathspecs: each a confined workspace path, given to git relative to the repository, after `--`. */
  private async pathspecs(repo: string | undefined, paths: readonly string[] | undefined): Promise<string[]> {
    if (!paths || paths.length === 0) return [];
    const folder = await this.folderOf(repo);
    const specs: string[] = [];
    for (const path of paths) {
      const names = parsePath(path, { allowRoot: true });
      if (names.some(isGitName)) throw gitError('path_git_internal', `${printable(path)} is inside a .git folder`, 403);
      const dir = await this.confinement.folder(names.slice(0, -1), path);
      const real = names.length === 0 ? this.confinement.root : join(dir, names[names.length - 1] as string);
      const inRepo = relative(folder.real, real);
      if (inRepo.startsWith('..')) throw gitError('path_outside_repository', `${printable(path)} is not inside the repository ${printable(folder.path)}`);
      specs.push(inRepo === '' ? '.' : inRepo);
    }
    return specs;
  }

  /** Refuses a git change while the workspace is over its quota. */
  private async ensureUnderQuota(what: string): Promise<void> {
    const used = await this.files.usage();
    if (used >= this.files.limits.quotaBytes) {
      throw new AirlockError('quota_exceeded', `${what}: the workspace holds ${used} bytes, at or over its quota of ${this.files.limits.quotaBytes}`, { status: 413 });
    }
  }

  async init(path: string | undefined, branch = 'main'): Promise<{ path: string; branch: string }> {
    checkRef(branch, 'branch');
    return this.files.exclusive(async () => {
      await this.ensureUnderQuota('git_init');
      const names = parsePath(path ?? '.', { allowRoot: true });
      if (names.some(isGitName)) throw gitError('path_git_internal', `${printable(path ?? '.')} is inside a .git folder`, 403);
      const real = await this.confinement.folder(names, path ?? '.', true);
      if (await lstat(join(real, '.git')).then(() => true, () => false)) throw gitError('already_a_repository', `${printable(this.confinement.display(real))} already holds a repository`, 409);
      const result = await runGit(['init', '--quiet', '--template=', `--initial-branch=${branch}`, '--', real], { cwd: real, env: this.env() });
      if (result.code !== 0) throw failed(result, 'git init');
      return { path: this.confinement.display(real), branch };
    });
  }

  /**
   * Clones a repository from an allowed folder on this machine or from another workspace (already
   * confined by the caller) into a new folder here. The clone is made beside its destination and moved
   * into place only when it fits the quota; otherwise it is removed and nothing is left.
   */
  async clone(source: { real: string; confinement?: Confinement }, dest: string, branch?: string): Promise<{ path: string; branch: string | null; bytes: number }> {
    if (branch !== undefined) checkRef(branch, 'branch');
    if (source.confinement) await this.checkRepository(source.real, source.confinement);
    const names = parsePath(dest);
    if (names.some(isGitName)) throw gitError('path_git_internal', `${printable(dest)} is inside a .git folder`, 403);
    return this.files.exclusive(async () => {
      await this.ensureUnderQuota('git_clone');
      const place = await this.confinement.placement(dest, { createParents: true, followLast: false });
      if (place.existing) throw gitError('already_exists', `${printable(place.path)} exists: clone into a new folder`, 409);
      // The source's git data is a floor for what the clone will take: refuse before copying what cannot fit.
      const floor = await usageOf(existsSync(join(source.real, '.git')) ? join(source.real, '.git') : source.real);
      await this.files.ensureRoom(floor, place.path);
      const temp = join(place.dir, `.airlock-tmp-${randomBytes(8).toString('hex')}`);
      try {
        const result = await runGit(['clone', '--quiet', '--no-hardlinks', '--template=', ...(branch ? ['--branch', branch] : []), '--', source.real, temp], {
          cwd: place.dir,
          env: this.env(),
          timeoutMs: 10 * 60_000,
        });
        if (result.code !== 0) throw failed(result, 'git clone');
        const bytes = await usageOf(temp);
        const used = await this.files.usage();
        if (used > this.files.limits.quotaBytes) {
          throw new AirlockError('quota_exceeded', `the clone is ${bytes} bytes: the workspace would hold ${used} of its ${this.files.limits.quotaBytes}; refused, nothing was kept`, {
            status: 413,
            details: { used_bytes: used - bytes, quota_bytes: this.files.limits.quotaBytes, needed_bytes: bytes },
          });
        }
        await rename(temp, place.real);
        const head = await runGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: place.real, env: this.env() });
        return { path: place.path, branch: head.code === 0 ? head.stdout.trim() : null, bytes };
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    });
  }

  async status(repo?: string): Promise<{ repo: string; branch: string | null; upstream: string | null; entries: Array<{ path: string; index: string; worktree: string; from?: string }>; clean: boolean }> {
    const result = await this.inRepository(repo, ['status', '--porcelain=v1', '--branch', '-z', '--untracked-files=all'], 'git status');
    const parts = result.stdout.split('\0');
    let branch: string | null = null;
    let upstream: string | null = null;
    const entries: Array<{ path: string; index: string; worktree: string; from?: string }> = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (part === '') continue;
      if (part.startsWith('## ')) {
        const header = part.slice(3);
        if (header.startsWith('No commits yet on ')) branch = header.slice('No commits yet on '.length).split(' ')[0] ?? null;
        else if (!header.startsWith('HEAD (no branch)')) {
          // Branch names never contain "..", so "..." separates the upstream.
          const [local, remote] = header.split('...');
          branch = local?.split(' ')[0] ?? null;
          upstream = remote?.split(' ')[0] ?? null;
        }
        continue;
      }
      const entry: { path: string; index: string; worktree: string; from?: string } = { index: part[0] as string, worktree: part[1] as string, path: part.slice(3) };
      if (entry.index === 'R' || entry.index === 'C') entry.from = parts[++i] as string;
      entries.push(entry);
    }
    return { repo: result.repo, branch, upstream, entries, clean: entries.length === 0 };
  }

  async diff(options: { repo?: string; staged?: boolean; ref?: string; paths?: string[]; stat?: boolean }): Promise<{ repo: string; diff: string; truncated: boolean }> {
    const specs = await this.pathspecs(options.repo, options.paths);
    const args = ['diff', '--no-ext-diff', '--no-textconv', '--no-color', ...(options.stat ? ['--stat'] : []), ...(options.staged ? ['--cached'] : []), ...(options.ref ? [checkRef(options.ref)] : []), '--', ...specs];
    const result = await this.inRepository(options.repo, args, 'git diff');
    return { repo: result.repo, diff: result.stdout, truncated: result.truncated };
  }

  async add(options: { repo?: string; paths?: string[]; all?: boolean }): Promise<{ repo: string; staged: Array<{ path: string; index: string }> }> {
    if (!options.all && (!options.paths || options.paths.length === 0)) throw gitError('invalid_arguments', 'name the paths to add, or set all');
    return this.files.exclusive(async () => {
      await this.ensureUnderQuota('git_add');
      const specs = await this.pathspecs(options.repo, options.paths);
      const result = await this.inRepository(options.repo, ['add', ...(options.all ? ['--all'] : []), '--', ...specs], 'git add');
      const status = await this.status(options.repo);
      return { repo: result.repo, staged: status.entries.filter((entry) => entry.index !== ' ' && entry.index !== '?').map((entry) => ({ path: entry.path, index: entry.index })) };
    });
  }

  async commit(options: { repo?: string; message: string; author: Author; allowEmpty?: boolean }): Promise<{ repo: string; commit: string; branch: string | null; summary: string }> {
    if (options.message.trim() === '') throw gitError('invalid_arguments', 'a commit needs a message');
    return this.files.exclusive(async () => {
      await this.ensureUnderQuota('git_commit');
      const who = { GIT_AUTHOR_NAME: options.author.name, GIT_AUTHOR_EMAIL: options.author.email, GIT_COMMITTER_NAME: options.author.name, GIT_COMMITTER_EMAIL: options.author.email };
      const result = await this.inRepository(options.repo, ['commit', '--quiet', '--no-verify', '--no-gpg-sign', '--file=-', ...(options.allowEmpty ? ['--allow-empty'] : [])], 'git commit', { input: options.message, env: who });
      const head = await this.inRepository(options.repo, ['log', '-1', '--format=%H%x1f%s'], 'git log');
      const [commit, summary] = head.stdout.trim().split('\x1f');
      const status = await this.status(options.repo);
      return { repo: result.repo, commit: commit as string, branch: status.branch, summary: summary ?? '' };
    });
  }

  async log(options: { repo?: string; maxCount?: number; ref?: string; paths?: string[] }): Promise<{ repo: string; commits: LogEntry[] }> {
    const specs = await this.pathspecs(options.repo, options.paths);
    const args = ['log', '--no-color', '--no-ext-diff', `--max-count=${options.maxCount ?? 20}`, '--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1e', ...(options.ref ? [checkRef(options.ref)] : []), '--', ...specs];
    const folder = await this.folderOf(options.repo);
    await this.checkRepository(folder.real);
    const result = await runGit(args, { cwd: folder.real, env: this.env() });
    if (result.code !== 0) {
      // A repository without commits has no log.
      if (/does not have any commits yet/.test(result.stderr)) return { repo: folder.path, commits: [] };
      throw failed(result, 'git log');
    }
    const commits = result.stdout
      .split('\x1e')
      .map((record) => record.trim())
      .filter(Boolean)
      .map((record) => {
        const [commit, author, email, date, subject] = record.split('\x1f');
        return { commit: commit as string, author: author as string, email: email as string, date: date as string, subject: subject ?? '' };
      });
    return { repo: folder.path, commits };
  }

  async branch(options: { repo?: string; create?: string; start?: string; delete?: string; force?: boolean }): Promise<{ repo: string; current: string | null; branches: string[] }> {
    if (options.create !== undefined) {
      await this.checkBranchName(options.repo, options.create);
      await this.inRepository(options.repo, ['branch', '--', options.create, ...(options.start ? [checkRef(options.start)] : [])], 'git branch');
    }
    if (options.delete !== undefined) {
      checkRef(options.delete, 'branch');
      await this.inRepository(options.repo, ['branch', options.force ? '-D' : '-d', '--', options.delete], 'git branch --delete');
    }
    const listed = await this.inRepository(options.repo, ['branch', '--list', '--no-color', '--format=%(HEAD)%(refname:short)'], 'git branch --list');
    const lines = listed.stdout.split('\n').filter(Boolean);
    const current = lines.find((line) => line.startsWith('*'))?.slice(1) ?? null;
    return { repo: listed.repo, current, branches: lines.map((line) => line.slice(1)) };
  }

  async checkout(options: { repo?: string; ref: string; create?: boolean; start?: string }): Promise<{ repo: string; branch: string | null; head: string }> {
    checkRef(options.ref);
    return this.files.exclusive(async () => {
      if (options.create) await this.checkBranchName(options.repo, options.ref);
      const args = options.create ? ['checkout', '--quiet', '-b', options.ref, ...(options.start ? [checkRef(options.start)] : []), '--'] : ['checkout', '--quiet', options.ref, '--'];
      const result = await this.inRepository(options.repo, args, 'git checkout');
      const head = await this.inRepository(options.repo, ['rev-parse', 'HEAD'], 'git rev-parse');
      const status = await this.status(options.repo);
      return { repo: result.repo, branch: status.branch, head: head.stdout.trim() };
    });
  }

  private async checkBranchName(repo: string | undefined, name: string): Promise<void> {
    checkRef(name, 'branch');
    const folder = await this.folderOf(repo);
    const result = await runGit(['check-ref-format', '--branch', name], { cwd: folder.real, env: this.env() });
    if (result.code !== 0) throw gitError('invalid_ref', `${printable(name)} is not a valid branch name`);
  }
}

/** Makes the private folders a workspace's git needs (HOME). */
export async function prepareHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
}
