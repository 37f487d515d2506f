import type { Command } from 'commander';

/** What `--json` prints, as the help text and docs/CLI.md describe it (and the tests check). */
export interface JsonShape {
  /** object: one JSON document; array: a JSON array of objects; lines: one JSON object per line. */
  readonly shape: 'object' | 'array' | 'lines';
  /** The fields every object carries (of each element, for an array or lines). */
  readonly fields: readonly string[];
  /** Fields present only in some cases. */
  readonly optional?: readonly string[];
  /** One more sentence, e.g. when a field is present. */
  readonly note?: string;
}

const shapes = new WeakMap<Command, JsonShape>();

/** The documented `--json` output of a command, if it has one. */
export function jsonShapeOf(command: Command): JsonShape | undefined {
  return shapes.get(command);
}

/** One line saying what `--json` prints. */
export function describeJson(shape: JsonShape): string {
  const what = { object: 'an object with', array: 'an array of objects with', lines: 'one object per line with' }[shape.shape];
  const optional = shape.optional && shape.optional.length > 0 ? `; when present: ${shape.optional.join(', ')}` : '';
  return `${what} ${shape.fields.join(', ')}${optional}${shape.note ? ` (${shape.note})` : ''}`;
}

/**
 * Adds `--json` to a command together with the description of what it prints: a command cannot offer
 * JSON without saying what is in it.
 */
export function withJson(command: Command, shape: JsonShape, description = 'print JSON for scripts'): Command {
  shapes.set(command, shape);
  return command.option('--json', description).addHelpText('after', `\nJSON (--json): ${describeJson(shape)}.`);
}
