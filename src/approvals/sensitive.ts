import { posix } from 'node:path';
import picomatch from 'picomatch';
import { pathsOf } from '../operations/catalog.js';
import type { Operation } from './command.js';

/**
 * The sensitive paths an operation names: any argument, or the value of a `key=value` argument (as in
 * `dd if=/etc/shadow`), that matches one of the globs once normalised (`/etc/../etc//shadow` too).
 * Relative paths cannot be judged here and are not matched.
 */
export function sensitivePathsIn(op: Operation, globs: readonly string[]): string[] {
  if (globs.length === 0) return [];
  const isSensitive = picomatch([...globs], { dot: true });
  if (op.kind === 'op') return [...new Set(pathsOf(op).filter((path) => isSensitive(path)))];
  const words = op.kind === 'exec' ? op.argv.slice(1) : op.script.split(/[\s;&|<>()`'"]+/);
  const candidates = words.flatMap((word) => [word, ...(word.includes('=') ? [word.slice(word.indexOf('=') + 1)] : [])]);
  return [...new Set(candidates.filter((word) => word.startsWith('/')).map((word) => posix.normalize(word)).filter((path) => isSensitive(path)))];
}
