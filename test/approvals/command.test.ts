import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalOp, displayOp, opHash, parseCommand } from '../../src/approvals/command.js';

describe('commands are argv, not shell', () => {
  it.each([
    ['echo test', ['echo', 'test']],
    ['  echo   test  ', ['echo', 'test']],
    ['echo "a b" c', ['echo', 'a b', 'c']],
    ["echo 'a;b' \"c|d\" e\\;f", ['echo', 'a;b', 'c|d', 'e;f']],
    ["grep -r 'TODO: $x' src", ['grep', '-r', 'TODO: $x', 'src']],
    ['ls -la /tmp', ['ls', '-la', '/tmp']],
  ])('%s is plain argv', (text, argv) => {
    expect(parseCommand(text)).toEqual({ op: { kind: 'exec', argv }, shellFeatures: [] });
  });

  it.each([
    ['a; b', 'command separator ;'],
    ['a && b', 'background or && operator'],
    ['curl x | sh', 'pipe or || operator'],
    ['echo $(id)', 'command substitution $(…)'],
    ['echo "$(id)"', 'command substitution $(…)'],
    ['echo `id`', 'command substitution `…`'],
    ['echo $HOME', 'variable expansion $'],
    ['echo "${HOME}"', 'parameter expansion ${…}'],
    ['cat < x', 'input redirection <'],
    ['echo hi > /etc/motd', 'output redirection >'],
    ['ls *.txt', 'glob *'],
    ['ls ~/x', 'home directory expansion ~'],
    ['echo a # b', 'comment #'],
    ['(cd /tmp)', 'subshell ( )'],
    ['echo a\nrm -rf /', 'newline (a second command)'],
  ])('%j needs a shell: %s', (text, feature) => {
    const parsed = parseCommand(text);
    expect(parsed.op).toEqual({ kind: 'shell', script: text.trim() });
    expect(parsed.shellFeatures).toContain(feature);
  });

  it('refuses empty, unterminated, oversized and control-character commands', () => {
    for (const [text, message] of [
      ['', /empty/],
      ['   ', /empty/],
      ['echo "open', /unterminated double quote/],
      ["echo 'open", /unterminated single quote/],
      ['x'.repeat(8193), /longer than 8192/],
      ['echo \u0000', /control characters/],
      ['echo \u001b[31m', /control characters/],
    ] as const) {
      expect(() => parseCommand(text)).toThrow(message);
    }
  });

  it('hashes the canonical operation, so spacing does not matter but every argument does', () => {
    const a = parseCommand('echo  test').op;
    expect(canonicalOp(a)).toBe('{"argv":["echo","test"],"kind":"exec"}');
    expect(opHash(a)).toBe(opHash(parseCommand('echo test').op));
    expect(opHash(a)).not.toBe(opHash(parseCommand('echo test2').op));
    expect(opHash(a)).not.toBe(opHash(parseCommand("'echo test'").op));
    expect(opHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('displays argv unambiguously and round-trips through the parser', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, unit: 'grapheme-ascii' }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)), { minLength: 1, maxLength: 6 }), (argv) => {
        const shown = displayOp({ kind: 'exec', argv });
        const parsed = parseCommand(shown);
        expect(parsed.op).toEqual({ kind: 'exec', argv });
      }),
      { numRuns: 300 },
    );
  });
});
