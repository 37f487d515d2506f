import { createHash } from 'node:crypto';
import { parse } from 'shell-quote';
import { canonicalJson } from '../audit/index.js';
import { quoteArgv } from '../common/command-line.js';
import { AirlockError } from '../errors.js';
import { OPERATIONS } from '../operations/catalog.js';
import { typedOp, type TypedOp, type TypedOpSchema } from '../operations/schema.js';
import type { z } from 'zod';

/**
 * A command line as it runs: a program with its arguments, run without a shell, or (only where a
 * target's policy allows a shell) a shell script run by /bin/sh -c.
 */
export type CommandOp = { readonly kind: 'exec'; readonly argv: readonly string[] } | { readonly kind: 'shell'; readonly script: string };

/** What is approved, hashed into the token and run: a command line or a typed operation. */
export type Operation = CommandOp | TypedOp;

export interface ParsedCommand {
  readonly op: CommandOp;
  /** The shell features found, e.g. "pipe |", "command substitution $(…)": empty for plain argv. */
  readonly shellFeatures: readonly string[];
}

export interface ParsedOperation {
  readonly op: Operation;
  readonly shellFeatures: readonly string[];
}

/** A request's, mint's or execution's operation: a command line, or a typed operation (already validated by its schema). */
export function readOperation(input: { readonly command?: string | undefined; readonly op?: z.output<typeof TypedOpSchema> | undefined }): ParsedOperation {
  if (input.op !== undefined && input.command !== undefined) throw invalid('give either "command" or "op", not both');
  if (input.op !== undefined) return { op: typedOp(input.op), shellFeatures: [] };
  if (input.command === undefined) throw invalid('give the command in "command", or a typed operation in "op"');
  return parseCommand(input.command);
}

const MAX_COMMAND = 8192;

/**
 * Reads a command line as a POSIX shell would tokenise it, and finds every feature that needs a
 * shell to mean what it says: operators, redirections, expansions, globs, comments. Quoting and
 * backslash escapes are honoured, so `echo "a;b"` is plain argv and `echo a;b` is not.
 */
export function parseCommand(text: string): ParsedCommand {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('the command is empty');
  if (text.length > MAX_COMMAND) throw invalid(`the command is longer than ${MAX_COMMAND} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw invalid('the command contains control characters');
  const features = shellFeatures(text);
  if (features.length > 0) return { op: { kind: 'shell', script: text.trim() }, shellFeatures: features };
  const tokens = parse(text, (name) => `$${name}`);
  if (!tokens.every((token): token is string => typeof token === 'string')) {
    return { op: { kind: 'shell', script: text.trim() }, shellFeatures: ['shell syntax'] };
  }
  return { op: { kind: 'exec', argv: tokens }, shellFeatures: [] };
}

/** RFC 8785 canonical JSON of an operation: the exact text that is hashed and approved. */
export function canonicalOp(op: Operation): string {
  switch (op.kind) {
    case 'exec':
      return canonicalJson({ argv: op.argv, kind: 'exec' });
    case 'shell':
      return canonicalJson({ kind: 'shell', script: op.script });
    case 'op':
      return canonicalJson({ args: op.args, kind: 'op', name: op.name });
  }
}

export function opHash(op: Operation): string {
  return createHash('sha256').update(canonicalOp(op)).digest('hex');
}

/** The operation as one readable line: argv quoted where needed so it reads unambiguously; a typed op as its name and summary. */
export function displayOp(op: Operation): string {
  if (op.kind === 'shell') return op.script;
  if (op.kind === 'op') return `${op.name}: ${OPERATIONS[op.name].summary(op.args)}`;
  return quoteArgv(op.argv);
}

const OPERATOR_NAMES: Record<string, string> = {
  ';': 'command separator ;',
  '&': 'background or && operator',
  '|': 'pipe or || operator',
  '<': 'input redirection <',
  '>': 'output redirection >',
  '(': 'subshell ( )',
  ')': 'subshell ( )',
  '\n': 'newline (a second command)',
  '`': 'command substitution `…`',
  '*': 'glob *',
  '?': 'glob ?',
  '[': 'glob [ ]',
  '{': 'brace expansion { }',
};

function shellFeatures(text: string): string[] {
  const found = new Set<string>();
  let quote: '"' | "'" | undefined;
  let wordStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      continue;
    }
    if (char === '\\') {
      i += 1; // the next character is literal
      wordStart = false;
      continue;
    }
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '$') found.add(expansionName(text, i));
      else if (char === '`') found.add(OPERATOR_NAMES['`'] as string);
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
      wordStart = false;
      continue;
    }
    if (char === ' ' || char === '\t') {
      wordStart = true;
      continue;
    }
    if (char === '$') found.add(expansionName(text, i));
    else if (char === '#' && wordStart) found.add('comment #');
    else if (char === '~' && wordStart) found.add('home directory expansion ~');
    else if (OPERATOR_NAMES[char]) found.add(OPERATOR_NAMES[char] as string);
    wordStart = false;
  }
  if (quote) throw invalid(`the command has an unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  return [...found];
}

function expansionName(text: string, index: number): string {
  const next = text[index + 1];
  if (next === '(') return 'command substitution $(…)';
  if (next === '{') return 'parameter expansion ${…}';
  return 'variable expansion $';
}

function invalid(message: string): AirlockError {
  return new AirlockError('invalid_command', message, { status: 400 });
}
