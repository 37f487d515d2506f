import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { completionTree } from '../../src/cli/completion.js';
import { buildProgram } from '../../src/cli/program.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** A shell, if this machine has it. */
function shell(name: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/local/bin'].map((dir) => join(dir, name)).find((path) => existsSync(path));
}

const BASH = shell('bash');

describe('airlock completion', () => {
  const scripts: Record<string, string> = {};
  const dir = tmpDir();
  beforeAll(async () => {
    for (const name of ['bash', 'zsh', 'fish']) {
      const result = await runCli(['completion', name], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      scripts[name] = result.stdout;
      writeFileSync(join(dir, `airlock.${name}`), result.stdout);
    }
  });

  /** What the bash completion offers for the words typed so far (the last one is being completed). */
  function complete(...words: string[]): string[] {
    const array = ['airlock', ...words].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    const output = execFileSync(BASH as string, ['--norc', '--noprofile', '-c', `source '${join(dir, 'airlock.bash')}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length}; _airlock; printf '%s\\n' "\${COMPREPLY[@]}"`], {
      encoding: 'utf8',
    });
    return output.split('\n').filter(Boolean);
  }

  it.skipIf(BASH === undefined)('bash: completes commands, subcommands, options and their choices', () => {
    expect(scripts.bash).toMatch(/^_airlock\(\) \{$/m);
    expect(scripts.bash).toContain('complete -o bashdefault -o default -F _airlock airlock');
    expect(complete('us')).toEqual(['users']);
    expect(complete('users', '')).toEqual(['add', 'list', 'disable', 'enable', 'reset-password', 'set-role', 'reset-totp']);
    expect(complete('users', 'add', '--role', '')).toEqual(['admin', 'approver', 'requester', 'auditor']);
    expect(complete('users', 'set-role', 'alice', 'a')).toEqual(['admin', 'approver', 'auditor']);
    expect(complete('incidents', 'add', '--severity', 'h')).toEqual(['high']);
    expect(complete('completion', '')).toEqual(['bash', 'zsh', 'fish']);
    expect(complete('keys', 'list', '--j')).toEqual(['--json']);
    // Options and their values are skipped on the way to the subcommand.
    expect(complete('audit', 'export', '--since', '5', '--format', '')).toEqual(['jsonl']);
    expect(complete('config', 'validate', '--log-level', 'debug', '--da')).toEqual(['--data-dir', '--database-url']);
    // A value of a free-form option, or the words of a command after --, are left to the shell.
    expect(complete('keys', 'create', '--name', '')).toEqual([]);
    expect(complete('run', '--env', 'dev', '--', 'us')).toEqual([]);
  });

  it('zsh: one completion function over the same tree, with descriptions', () => {
    const zsh = scripts.zsh as string;
    expect(zsh.startsWith('#compdef airlock\n')).toBe(true);
    expect(zsh).toMatch(/^_airlock\(\) \{$/m);
    expect(zsh).toContain('compdef _airlock airlock');
    expect(zsh).toContain("'users:manage people and service accounts (on this machine'\\''s store)'");
    expect(zsh).toContain("'users add|--role') printf '%s\\n' 'admin' 'approver' 'requester' 'auditor'; return 0 ;;");
    // `path` is zsh's PATH array: the script must not use it as a variable.
    expect(zsh).not.toMatch(/\blocal path\b|\bpath=/);
    const zshBinary = shell('zsh');
    if (zshBinary) execFileSync(zshBinary, ['-n', join(dir, 'airlock.zsh')]);
  });

  it('fish: complete lines for every command and option, under a path condition', () => {
    const fish = scripts.fish as string;
    expect(fish).toContain('function __airlock_path');
    expect(fish).toContain("complete -c airlock -f -n '__airlock_at \\'\\'' -a 'users' -d 'manage people and service accounts (on this machine\\'s store)'");
    expect(fish).toContain("complete -c airlock -f -n '__airlock_at \\'users\\'' -a 'add'");
    expect(fish).toContain("complete -c airlock -n '__airlock_at \\'users add\\'' -l 'role' -x -a 'admin approver requester auditor'");
    expect(fish).toContain("complete -c airlock -f -n '__airlock_at \\'completion\\'' -a 'bash zsh fish'");
    // Every function opened is closed.
    expect(fish.match(/^function /gm)?.length).toBe(fish.match(/^end$/gm)?.length);
    const fishBinary = shell('fish');
    if (fishBinary) execFileSync(fishBinary, ['-n', join(dir, 'airlock.fish')]);
  });

  it('covers every command of the program, walked from its tree', () => {
    const nodes = completionTree(buildProgram());
    const leaves = nodes.filter((node) => node.commands.length === 0).map((node) => node.path);
    expect(leaves).toEqual(expect.arrayContaining(['serve', 'doctor', 'users add', 'keys rotate-audit', 'approvals wait', 'webhooks redrive', 'completion']));
    for (const node of nodes) {
      expect(scripts.bash).toContain(`'${node.path.replace(/'/g, `'\\''`)}') printf`);
      for (const command of node.commands) expect(scripts.fish).toContain(`-a '${command.name}'`);
    }
  });
});
