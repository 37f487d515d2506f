import { lstat, realpath } from 'node:fs/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import type { Principal } from '../identity/index.js';
import { READ_ONLY, ok, toolRegistrar, type McpCaller } from '../mcp/index.js';
import { VERSION } from '../version.js';
import { printable } from './confine.js';
import type { Entry } from './files.js';
import type { OpenWorkspace, Workspaces } from './service.js';

const path = z.string().max(65_536);
const repo = path.default('.').describe('the repository folder, from the workspace root');
const paths = z.array(path).max(1000);
const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false } as const;
const DESTRUCTIVE = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false } as const;
/** Names and emails of commit authors: one plain line. */
const authorText = z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f<>]+$/, { error: 'one line without < or >' });

function describeEntry(entry: Entry): string {
  const kind = entry.type === 'directory' ? 'dir ' : entry.type === 'symlink' ? 'link' : entry.type === 'file' ? 'file' : 'other';
  return `${kind} ${entry.path}${entry.type === 'directory' ? '/' : ''}${entry.type === 'file' ? ` (${entry.size} bytes)` : ''}${entry.link_target !== undefined ? ` -> ${entry.link_target}` : ''}`;
}

/**
 * The tools of one workspace's MCP endpoint: files (list_dir, read_file, write_file, edit_file, move,
 * delete, search, stat) and git (git_init, git_clone, git_status, git_diff, git_add, git_commit,
 * git_log, git_branch, git_checkout). Each call opens the workspace again as the calling principal, so a
 * workspace deleted or a key revoked mid-session stops the tools at once; each call is audited.
 */
export function createWorkspaceMcpServer(workspaces: Workspaces, audit: AuditLog, caller: McpCaller, workspace: { id: string; name: string }): McpServer {
  const server = new McpServer(
    { name: 'airlock-workspace', title: `Airlock workspace ${workspace.name}`, version: VERSION },
    {
      instructions: `Workspace ${workspace.name}: a folder of your own with file and git tools. Paths are relative to the workspace root (no absolute paths, no "..", no links out of it). Writes are atomic and count against the workspace's quota. Clone repositories with git_clone (from an allowed folder on the server or another workspace of yours), then edit, git_add and git_commit.`,
    },
  );
  const tool = toolRegistrar(server, caller, audit, { subject: { type: 'workspace', id: workspace.id }, data: { workspace: workspace.id } });
  const use = (principal: Principal): Promise<OpenWorkspace> => workspaces.open(principal, workspace.id);
  const needed = ['workspaces:use'] as const;

  tool(
    'list_dir',
    needed,
    {
      title: 'List a folder',
      description: 'The entries of a folder (the root by default): type, size, modification time, and where links point. recursive lists everything below (not inside .git).',
      input: z.strictObject({ path: path.default('.'), recursive: z.boolean().default(false), max_entries: z.number().int().min(1).max(5000).default(1000) }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const listed = await files.list(args.path, { recursive: args.recursive, maxEntries: args.max_entries });
      const text = listed.entries.map(describeEntry).join('\n') || `${listed.path} is empty`;
      return ok({ ...listed }, `${text}${listed.truncated ? '\n(more entries not shown)' : ''}`);
    },
  );

  tool(
    'read_file',
    needed,
    {
      title: 'Read a file',
      description:
        'A file\'s content, or part of it: lines start_line..end_line (1-based, inclusive), or bytes from offset (at most length). At most the workspace\'s read cap per call; truncated says when there is more. Text comes back as UTF-8, anything else as base64.',
      input: z.strictObject({
        path,
        start_line: z.number().int().min(1).optional(),
        end_line: z.number().int().min(1).optional(),
        offset: z.number().int().min(0).optional(),
        length: z.number().int().min(0).optional(),
        encoding: z.enum(['utf8', 'base64']).default('utf8'),
      }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      if ((args.start_line !== undefined || args.end_line !== undefined) && (args.offset !== undefined || args.length !== undefined)) {
        throw new AirlockError('invalid_range', 'give lines (start_line, end_line) or bytes (offset, length), not both', { status: 400 });
      }
      const { files } = await use(principal);
      const read = await files.read(args.path, {
        encoding: args.encoding,
        ...(args.start_line !== undefined ? { startLine: args.start_line } : {}),
        ...(args.end_line !== undefined ? { endLine: args.end_line } : {}),
        ...(args.offset !== undefined ? { offset: args.offset } : {}),
        ...(args.length !== undefined ? { length: args.length } : {}),
      });
      return ok({ ...read }, read.content + (read.truncated ? `\n[truncated: ${read.bytes} of ${read.size} bytes shown]` : ''));
    },
  );

  tool(
    'write_file',
    needed,
    {
      title: 'Write a file',
      description: 'Writes a whole file atomically (a new file renamed over the old one), making missing folders unless create_parents is false. Refused when the workspace would exceed its quota; nothing partial is ever left.',
      input: z.strictObject({
        path,
        content: z.string(),
        encoding: z.enum(['utf8', 'base64']).default('utf8'),
        create_parents: z.boolean().default(true),
        overwrite: z.boolean().default(true),
      }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const data = Buffer.from(args.content, args.encoding);
      const written = await files.write(args.path, data, { createParents: args.create_parents, overwrite: args.overwrite });
      return ok({ ...written }, `${written.created ? 'created' : 'replaced'} ${written.path} (${written.size} bytes, sha256 ${written.sha256})`);
    },
  );

  tool(
    'edit_file',
    needed,
    {
      title: 'Edit a file',
      description: 'Replaces old_string with new_string in a text file. old_string must occur exactly once (give enough context), unless replace_all. Atomic, within the quota.',
      input: z.strictObject({ path, old_string: z.string().min(1), new_string: z.string(), replace_all: z.boolean().default(false) }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const edited = await files.edit(args.path, args.old_string, args.new_string, { replaceAll: args.replace_all });
      return ok({ ...edited }, `edited ${edited.path}: ${edited.replacements} replacement${edited.replacements === 1 ? '' : 's'}, now ${edited.size} bytes`);
    },
  );

  tool(
    'move',
    needed,
    {
      title: 'Move or rename',
      description: 'Moves or renames a file, folder or link inside the workspace. The destination must not exist unless overwrite (never a folder).',
      input: z.strictObject({ from: path, to: path, overwrite: z.boolean().default(false), create_parents: z.boolean().default(false) }),
      annotations: DESTRUCTIVE,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const moved = await files.move(args.from, args.to, { overwrite: args.overwrite, createParents: args.create_parents });
      return ok({ ...moved }, `moved ${moved.from} to ${moved.to}`);
    },
  );

  tool(
    'delete',
    needed,
    {
      title: 'Delete',
      description: 'Deletes a file or link (the link, never its target), or a folder: an empty one, or with everything in it when recursive.',
      input: z.strictObject({ path, recursive: z.boolean().default(false) }),
      annotations: DESTRUCTIVE,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const deleted = await files.delete(args.path, { recursive: args.recursive });
      return ok({ ...deleted }, `deleted ${deleted.type} ${deleted.path} (${deleted.freed_bytes} bytes freed)`);
    },
  );

  tool(
    'search',
    needed,
    {
      title: 'Search files',
      description:
        'Finds files by glob (on the path from the root; a pattern without / matches file names anywhere) and, with text, the lines containing it (literal, or a regular expression with regex). .git folders are skipped unless include_git; links are not followed.',
      input: z.strictObject({
        path: path.default('.'),
        glob: z.string().max(1000).optional(),
        text: z.string().max(1000).optional(),
        regex: z.boolean().default(false),
        case_sensitive: z.boolean().default(true),
        max_results: z.number().int().min(1).max(2000).default(200),
        include_git: z.boolean().default(false),
      }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      if (args.glob === undefined && args.text === undefined) throw new AirlockError('invalid_arguments', 'give a glob, a text, or both', { status: 400 });
      const { files } = await use(principal);
      const found = await files.search({
        path: args.path,
        regex: args.regex,
        caseSensitive: args.case_sensitive,
        maxResults: args.max_results,
        includeGit: args.include_git,
        ...(args.glob !== undefined ? { glob: args.glob } : {}),
        ...(args.text !== undefined ? { text: args.text } : {}),
      });
      const lines = found.matches.map((match) => (match.line !== undefined ? `${match.path}:${match.line}: ${match.text}` : match.path));
      return ok({ ...found }, `${lines.join('\n') || 'no matches'}${found.truncated ? '\n(more matches not shown)' : ''}`);
    },
  );

  tool(
    'stat',
    needed,
    {
      title: 'Stat a path',
      description: 'What a path is: type, size, mode, modification time, link count, and where a link points.',
      input: z.strictObject({ path: path.default('.') }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const { files } = await use(principal);
      const stats = await files.stat(args.path);
      return ok({ ...stats }, `${describeEntry(stats)}, mode ${stats.mode}, modified ${stats.modified}`);
    },
  );

  tool(
    'git_init',
    needed,
    {
      title: 'git init',
      description: 'Makes a new repository in a folder (the root by default; made if missing).',
      input: z.strictObject({ path: path.default('.'), initial_branch: z.string().max(200).default('main') }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const made = await git.init(args.path, args.initial_branch);
      return ok({ ...made }, `initialised a repository in ${made.path} on branch ${made.branch}`);
    },
  );

  tool(
    'git_clone',
    needed,
    {
      title: 'git clone',
      description:
        'Clones a repository into a new folder of this workspace, from source_path (an absolute folder on the server inside the allowed clone roots) or from source_workspace (another workspace of yours, with source_subpath inside it). No network: only local clones.',
      input: z.strictObject({
        source_path: z.string().max(4096).optional(),
        source_workspace: z.string().max(100).optional(),
        source_subpath: path.default('.'),
        dest: path,
        branch: z.string().max(200).optional(),
      }),
      annotations: WRITE,
    },
    async (args, principal) => {
      if ((args.source_path === undefined) === (args.source_workspace === undefined)) {
        throw new AirlockError('invalid_arguments', 'give exactly one of source_path or source_workspace', { status: 400 });
      }
      const { git } = await use(principal);
      let source: Parameters<typeof git.clone>[0];
      if (args.source_workspace !== undefined) {
        const other = await workspaces.open(principal, args.source_workspace);
        const folder = await other.files.confinement.existing(args.source_subpath, { allowRoot: true });
        if (!folder.stats.isDirectory()) throw new AirlockError('not_a_directory', `${printable(folder.path)} in workspace ${args.source_workspace} is not a folder`, { status: 400 });
        source = { real: folder.real, confinement: other.files.confinement };
      } else {
        source = { real: await allowedCloneSource(workspaces.settings.cloneRoots, workspaces.settings.dir, args.source_path as string) };
      }
      const cloned = await git.clone(source, args.dest, args.branch);
      return ok({ ...cloned }, `cloned into ${cloned.path} (${cloned.bytes} bytes)${cloned.branch ? `, on branch ${cloned.branch}` : ''}`);
    },
  );

  tool(
    'git_status',
    needed,
    { title: 'git status', description: 'The branch and the changed, staged and untracked files of a repository.', input: z.strictObject({ repo }), annotations: READ_ONLY },
    async (args, principal) => {
      const { git } = await use(principal);
      const status = await git.status(args.repo);
      const lines = status.entries.map((entry) => `${entry.index}${entry.worktree} ${entry.from ? `${entry.from} -> ` : ''}${entry.path}`);
      return ok({ ...status }, `on ${status.branch ?? '(detached)'}${status.upstream ? ` tracking ${status.upstream}` : ''}${status.clean ? ', nothing to commit' : `\n${lines.join('\n')}`}`);
    },
  );

  tool(
    'git_diff',
    needed,
    {
      title: 'git diff',
      description: 'Changes not yet staged (or staged ones with staged, or against a ref), optionally limited to paths; stat gives the summary only.',
      input: z.strictObject({ repo, staged: z.boolean().default(false), ref: z.string().max(200).optional(), paths: paths.optional(), stat: z.boolean().default(false) }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const diff = await git.diff({ repo: args.repo, staged: args.staged, stat: args.stat, ...(args.ref !== undefined ? { ref: args.ref } : {}), ...(args.paths ? { paths: args.paths } : {}) });
      return ok({ ...diff }, `${diff.diff || 'no differences'}${diff.truncated ? '\n[truncated]' : ''}`);
    },
  );

  tool(
    'git_add',
    needed,
    {
      title: 'git add',
      description: 'Stages the given paths (or every change with all).',
      input: z.strictObject({ repo, paths: paths.optional(), all: z.boolean().default(false) }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const added = await git.add({ repo: args.repo, all: args.all, ...(args.paths ? { paths: args.paths } : {}) });
      return ok({ ...added }, `staged: ${added.staged.map((entry) => `${entry.index} ${entry.path}`).join(', ') || 'nothing'}`);
    },
  );

  tool(
    'git_commit',
    needed,
    {
      title: 'git commit',
      description: 'Commits what is staged, with the message given. The author is you (your user name) unless author_name and author_email are given. Hooks never run.',
      input: z.strictObject({ repo, message: z.string().min(1).max(100_000), author_name: authorText.optional(), author_email: authorText.optional(), allow_empty: z.boolean().default(false) }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const author = { name: args.author_name ?? principal.username, email: args.author_email ?? `${principal.username}@airlock.invalid` };
      const committed = await git.commit({ repo: args.repo, message: args.message, author, allowEmpty: args.allow_empty });
      return ok({ ...committed }, `committed ${committed.commit.slice(0, 12)} on ${committed.branch ?? '(detached)'}: ${committed.summary}`);
    },
  );

  tool(
    'git_log',
    needed,
    {
      title: 'git log',
      description: 'The newest commits (of a ref, or HEAD), optionally only those touching paths.',
      input: z.strictObject({ repo, max_count: z.number().int().min(1).max(500).default(20), ref: z.string().max(200).optional(), paths: paths.optional() }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const log = await git.log({ repo: args.repo, maxCount: args.max_count, ...(args.ref !== undefined ? { ref: args.ref } : {}), ...(args.paths ? { paths: args.paths } : {}) });
      return ok({ ...log }, log.commits.map((commit) => `${commit.commit.slice(0, 12)} ${commit.date} ${commit.author}: ${commit.subject}`).join('\n') || 'no commits yet');
    },
  );

  tool(
    'git_branch',
    needed,
    {
      title: 'git branch',
      description: 'Lists branches; creates one (create, from start or HEAD) or deletes one (delete; force for unmerged work).',
      input: z.strictObject({ repo, create: z.string().max(200).optional(), start: z.string().max(200).optional(), delete: z.string().max(200).optional(), force: z.boolean().default(false) }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const branches = await git.branch({
        repo: args.repo,
        force: args.force,
        ...(args.create !== undefined ? { create: args.create } : {}),
        ...(args.start !== undefined ? { start: args.start } : {}),
        ...(args.delete !== undefined ? { delete: args.delete } : {}),
      });
      return ok({ ...branches }, branches.branches.map((name) => `${name === branches.current ? '*' : ' '} ${name}`).join('\n') || 'no branches yet');
    },
  );

  tool(
    'git_checkout',
    needed,
    {
      title: 'git checkout',
      description: 'Switches to a branch or commit; with create, makes the branch first (from start or HEAD).',
      input: z.strictObject({ repo, ref: z.string().min(1).max(200), create: z.boolean().default(false), start: z.string().max(200).optional() }),
      annotations: WRITE,
    },
    async (args, principal) => {
      const { git } = await use(principal);
      const switched = await git.checkout({ repo: args.repo, ref: args.ref, create: args.create, ...(args.start !== undefined ? { start: args.start } : {}) });
      return ok({ ...switched }, `now on ${switched.branch ?? '(detached)'} at ${switched.head.slice(0, 12)}`);
    },
  );

  return server;
}

/** A local clone source: an existing folder whose real path lies inside one of the allowed clone roots. */
async function allowedCloneSource(roots: readonly string[], workspacesDir: string, source: string): Promise<string> {
  if (!source.startsWith('/') || source.includes('\0')) throw new AirlockError('clone_source_refused', 'source_path must be an absolute path on the server', { status: 400 });
  if (roots.length === 0) throw new AirlockError('clone_source_refused', 'no folder on this server is open for cloning (workspaces.cloneRoots); clone from another workspace of yours instead', { status: 403 });
  let real: string;
  try {
    real = await realpath(source);
  } catch {
    throw new AirlockError('not_found', `${printable(source)} does not exist`, { status: 404 });
  }
  const others = await realpath(workspacesDir).catch(() => workspacesDir);
  if (real === others || real.startsWith(`${others}/`)) {
    throw new AirlockError('clone_source_refused', 'workspaces are cloned by id (source_workspace), never by their folder', { status: 403 });
  }
  for (const root of roots) {
    const allowed = await realpath(root).catch(() => undefined);
    if (allowed && (real === allowed || real.startsWith(`${allowed}/`))) {
      if (!(await lstat(real)).isDirectory()) throw new AirlockError('not_a_directory', `${printable(source)} is not a folder`, { status: 400 });
      return real;
    }
  }
  throw new AirlockError('clone_source_refused', `${printable(source)} is outside the folders open for cloning (${roots.join(', ')})`, { status: 403 });
}
