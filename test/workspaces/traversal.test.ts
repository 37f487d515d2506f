import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parsePath } from '../../src/workspaces/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { call, connectWorkspace, filesOf, startWorkspaceServer } from '../helpers/workspaces.js';

const SECRET = 'OUTSIDE-SECRET-7f3a9c';
const isRoot = process.getuid?.() === 0;

/**
 * Every way out of a workspace we know of, through the MCP tools of a real server: each must be refused
 * with a code and a message that says why, and nothing outside may be read, written or listed.
 */
const ESCAPES: Array<{ name: string; path: string; codes: string[] }> = [
  { name: 'parent', path: '../secret.txt', codes: ['path_traversal'] },
  { name: 'deep parent', path: '../../../../../../etc/passwd', codes: ['path_traversal'] },
  { name: 'parent after a folder', path: 'sub/../../secret.txt', codes: ['path_traversal'] },
  { name: 'parent after dot', path: './../secret.txt', codes: ['path_traversal'] },
  { name: 'bare ..', path: '..', codes: ['path_traversal'] },
  { name: 'trailing ..', path: 'sub/..', codes: ['path_traversal'] },
  { name: 'absolute', path: '/etc/passwd', codes: ['path_absolute'] },
  { name: 'double slash absolute', path: '//etc/passwd', codes: ['path_absolute'] },
  { name: 'root', path: '/', codes: ['path_absolute'] },
  { name: 'home', path: '~/../../etc/passwd', codes: ['path_traversal'] },
  { name: 'percent-encoded dots and slash', path: '%2e%2e/%2e%2e/etc/passwd', codes: ['path_encoded'] },
  { name: 'percent-encoded slash', path: '..%2fsecret.txt', codes: ['path_encoded'] },
  { name: 'upper-case encoding', path: '%2E%2E%2Fsecret.txt', codes: ['path_encoded'] },
  { name: 'double encoding', path: '%252e%252e/etc/passwd', codes: ['path_encoded'] },
  { name: 'overlong UTF-8 encoding', path: '..%c0%afetc/passwd', codes: ['path_encoded'] },
  { name: 'backslashes', path: '..\\..\\etc\\passwd', codes: ['path_invalid'] },
  { name: 'drive path', path: 'C:\\Windows\\win.ini', codes: ['path_absolute'] },
  { name: 'two-dot leader (NFKC ..)', path: '\u2025/secret.txt', codes: ['path_unicode'] },
  { name: 'fullwidth dots (NFKC ..)', path: '\uFF0E\uFF0E/secret.txt', codes: ['path_unicode'] },
  { name: 'fullwidth solidus (NFKC /)', path: '..\uFF0Fsecret.txt', codes: ['path_unicode'] },
  { name: 'one dot leader pair', path: '\u2024\u2024/etc/passwd', codes: ['path_unicode'] },
  { name: 'NUL inside', path: 'notes.txt\u0000.png', codes: ['path_invalid'] },
  { name: 'NUL before ..', path: '\u0000../etc/passwd', codes: ['path_invalid'] },
  { name: 'newline', path: 'notes.txt\n../x', codes: ['path_invalid'] },
  { name: 'lone surrogate', path: 'a\uD800b', codes: ['path_invalid'] },
  { name: 'very long path', path: `${'a/'.repeat(2100)}x`, codes: ['path_too_long'] },
  { name: 'very long name', path: 'x'.repeat(300), codes: ['path_too_long'] },
  { name: 'symlink to /etc/passwd', path: 'link-passwd', codes: ['path_escapes'] },
  { name: 'symlinked parent to /etc', path: 'link-etc/passwd', codes: ['path_escapes'] },
  { name: 'symlink chain ending outside', path: 'chain1', codes: ['path_escapes'] },
  { name: 'symlinked parent folder outside', path: 'linkdir/secret.txt', codes: ['path_escapes'] },
  { name: 'symlinked folder outside, nested', path: 'sub/inner-link/secret.txt', codes: ['path_escapes'] },
  { name: 'relative symlink climbing out', path: 'climb', codes: ['path_escapes'] },
  { name: 'symlink loop', path: 'loop1', codes: ['path_escapes'] },
  { name: 'dangling symlink pointing outside', path: 'dangling-out', codes: ['path_escapes'] },
  { name: 'hard link to an outside file', path: 'hard', codes: ['path_hard_link'] },
  ...(isRoot ? [{ name: 'character device', path: 'dev-null', codes: ['path_not_regular'] }] : []),
  { name: 'FIFO', path: 'fifo', codes: ['path_not_regular'] },
];

let client: Client;
let outside: string;
let root: string;

beforeAll(async () => {
  const gate = await startWorkspaceServer('sqlite');
  const workspace = await gate.create(gate.alice, { name: 'matrix' });
  root = filesOf(gate.server, workspace.id);
  outside = tmpDir('airlock-outside-');
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(root, 'notes.txt'), 'inside\n');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'ok.txt'), 'fine\n');
  symlinkSync('/etc/passwd', join(root, 'link-passwd'));
  symlinkSync('/etc', join(root, 'link-etc'));
  symlinkSync('chain2', join(root, 'chain1'));
  symlinkSync('sub/chain3', join(root, 'chain2'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'sub', 'chain3'));
  symlinkSync(outside, join(root, 'linkdir'));
  symlinkSync(outside, join(root, 'sub', 'inner-link'));
  symlinkSync('../../../../../../../../../../etc/passwd', join(root, 'climb'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  symlinkSync(join(outside, 'new.txt'), join(root, 'dangling-out'));
  symlinkSync('notes.txt', join(root, 'inside-link'));
  linkSync(join(outside, 'secret.txt'), join(root, 'hard'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  if (isRoot) execFileSync('mknod', [join(root, 'dev-null'), 'c', '1', '3']);
  client = await connectWorkspace(gate.url, gate.alice, workspace.id);
});

function outsideUnchanged(): void {
  expect(readdirSync(outside).sort()).toEqual(['dir', 'secret.txt']);
  expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  expect(readdirSync(join(outside, 'dir'))).toEqual([]);
}

describe('path confinement: the traversal matrix', () => {
  it('has at least 30 cases', () => {
    expect(ESCAPES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(ESCAPES)('read_file refuses $name', async ({ path, codes }) => {
    const result = await call(client, 'read_file', { path })
    expect(result.error, result.text).toBe(true);
    expect(codes, result.text).toContain(result.code);
    expect(result.text.length).toBeGreaterThan(30);
    expect(result.text).not.toContain(SECRET);
    expect(result.text).not.toMatch(/root:x?:0:0/);
  });

  it.each(ESCAPES)('write_file refuses $name and writes nothing outside', async ({ path, codes }) => {
    const result = await call(client, 'write_file', { path, content: 'PWNED' });
    expect(result.error, result.text).toBe(true);
    // A hard link or a device is refused as a target of a write just as it is for a read.
    expect([...codes, 'path_git_internal'], result.text).toContain(result.code);
    outsideUnchanged();
  });

  it.each(ESCAPES)('stat, list_dir, edit_file and move refuse $name', async ({ path, codes }) => {
    const stat = await call(client, 'stat', { path });
    const list = await call(client, 'list_dir', { path });
    const edit = await call(client, 'edit_file', { path, old_string: 'root', new_string: 'PWNED' });
    // Moving onto the path: refused as a path, or because something is there already (never replaced without overwrite).
    const move = await call(client, 'move', { from: 'notes.txt', to: path });
    for (const result of [list, edit, move]) {
      expect(result.error, result.text).toBe(true);
      expect(result.text).not.toContain(SECRET);
    }
    // stat describes an entry without following it: a hard link, device or FIFO inside may be described.
    if (stat.error) expect(codes, stat.text).toContain(stat.code);
    else expect(['path_hard_link', 'path_not_regular']).toContain(codes[0]);
    outsideUnchanged();
  });

  it('search and recursive listing never follow a link out', async () => {
    const found = await call(client, 'search', { text: 'OUTSIDE' });
    expect(found.error, found.text).toBe(false);
    expect(found.structured.matches).toEqual([]);
    const passwd = await call(client, 'search', { text: 'root:' });
    expect(passwd.structured.matches).toEqual([]);
    const listed = await call(client, 'list_dir', { path: '.', recursive: true });
    expect(listed.error).toBe(false);
    const paths = (listed.structured.entries as { path: string }[]).map((entry) => entry.path);
    expect(paths).toContain('linkdir');
    expect(paths.some((path) => path.startsWith('linkdir/'))).toBe(false);
  });

  it('reads and writes through a link that stays inside, and deletes a link, never its target', async () => {
    expect((await call(client, 'read_file', { path: 'inside-link' })).structured.content).toBe('inside\n');
    const deleted = await call(client, 'delete', { path: 'linkdir' });
    expect(deleted.error, deleted.text).toBe(false);
    outsideUnchanged();
    expect((await call(client, 'read_file', { path: 'sub/ok.txt' })).structured.content).toBe('fine\n');
  });

  it('refuses writes into .git even through a link', async () => {
    mkdirSync(join(root, 'repo', '.git'), { recursive: true });
    writeFileSync(join(root, 'repo', '.git', 'config'), '[core]\n');
    symlinkSync('repo/.git', join(root, 'gitlink'));
    for (const path of ['repo/.git/config', '.git/hooks/pre-commit', 'repo/.GIT/config', 'gitlink/config']) {
      const result = await call(client, 'write_file', { path, content: '[core]\n\tfsmonitor = touch /tmp/pwned\n' });
      expect(result.code, `${path}: ${result.text}`).toBe('path_git_internal');
    }
    expect(readFileSync(join(root, 'repo', '.git', 'config'), 'utf8')).toBe('[core]\n');
  });
});

describe('parsePath', () => {
  it('keeps ordinary names, dots inside names and Unicode names as they are', () => {
    expect(parsePath('a/b.txt')).toEqual(['a', 'b.txt']);
    expect(parsePath('./a//b/')).toEqual(['a', 'b']);
    expect(parsePath('..a/b..')).toEqual(['..a', 'b..']);
    expect(parsePath('caf\u00e9/\u65e5\u672c')).toEqual(['caf\u00e9', '\u65e5\u672c']);
    expect(parsePath('.', { allowRoot: true })).toEqual([]);
    expect(() => parsePath('.')).toThrow(/root itself/);
  });
});
