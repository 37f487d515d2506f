import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, assessRisk, parseCommand } from '../../src/approvals/index.js';

const level = (command: string, executor = 'workspace') => assessRisk(DEFAULT_POLICY, { command: parseCommand(command), instruction: '', environment: 'dev', target: 'ws', executor }).level;

describe('risk on workspace targets', () => {
  it.each([
    'git status',
    'git log --oneline -n 5',
    'git diff HEAD~1 -- src',
    'git show HEAD:README.md',
    'git branch',
    'git branch --list -a',
    'git ls-files',
    'git grep -n needle',
    'cat src/main.ts',
    'ls -la',
    'head -n 20 notes.txt',
  ])('%s is LOW', (command) => {
    expect(level(command)).toBe('LOW');
  });

  it.each([
    'git add .',
    'git commit -m x',
    'git branch feature',
    'git -c core.pager=sh log',
    'git diff --output=x',
    'git diff --no-index a b',
    'git diff --ext-diff',
    'git log --textconv',
    'git grep --open-files-in-pager=vi x',
    'cat /etc/passwd',
    'cat ../outside',
    'cat ~/.ssh/id_rsa',
    'head --lines=5 ../x',
    'grep -r root .',
    'ls -R',
    'du -L',
    'diff -r a b',
  ])('%s waits for a person', (command) => {
    expect(level(command)).not.toBe('LOW');
  });

  it('applies the workspace rules to workspace targets only', () => {
    expect(level('git status', 'local')).toBe('MEDIUM');
    expect(level('grep -r root .', 'local')).toBe('LOW');
  });
});
