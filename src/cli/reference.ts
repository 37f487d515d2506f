import type { Command } from 'commander';
import { describeJson, jsonShapeOf } from './json-doc.js';

/** Every command below `command` that does something (has no subcommands), with its words from the root. */
export function leafCommands(command: Command, path: readonly string[] = []): Array<{ path: string; command: Command }> {
  if (command.commands.length === 0) return [{ path: path.join(' '), command }];
  return command.commands.flatMap((sub) => leafCommands(sub, [...path, sub.name()]));
}

/**
 * The reference part of docs/CLI.md: each command, what it does and what its --json prints. Written
 * from the commands themselves, so the page says what the help says (test/cli/json-output.test.ts
 * compares them).
 */
export function jsonReference(program: Command): string {
  const lines = ['| command | what it does | `--json` prints |', '| --- | --- | --- |'];
  for (const { path, command } of leafCommands(program)) {
    const shape = jsonShapeOf(command);
    const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    lines.push(`| \`airlock ${path}\` | ${cell(command.description())} | ${shape ? cell(describeJson(shape)) : '(no --json)'} |`);
  }
  return `${lines.join('\n')}\n`;
}
