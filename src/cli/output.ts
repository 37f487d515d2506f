import { stripVTControlCharacters } from 'node:util';
import picocolors from 'picocolors';

/** Exit codes of every command: 1 when a check fails or work cannot be done, 2 for bad configuration or usage. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  InvalidConfig: 2,
} as const;

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One JSON document on standard output, indented for people who read it too. */
export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Writes to stdout, waiting when the pipe is full so a large export never buffers in memory. */
export async function write(chunk: string): Promise<void> {
  if (!process.stdout.write(chunk)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

export type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Whether to colour what goes to `stream`: never with NO_COLOR, always with FORCE_COLOR (unless it is 0
 * or false), otherwise only on a terminal that is not TERM=dumb. picocolors alone would also colour a
 * pipe whenever CI is set, and decides for standard error by looking at standard output.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR.toLowerCase());
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Colours for standard output and for standard error, each on only where it reaches a terminal. */
export const color: Colors = picocolors.createColors(colorEnabled(process.stdout));
export const errorColor: Colors = picocolors.createColors(colorEnabled(process.stderr));

/** A status word in the colour people expect of it: green for good, yellow for waiting, red for bad. */
export function statusColor(status: string, colors: Colors = color): string {
  const word = status.trim().toUpperCase();
  if (['OK', 'PASS', 'APPROVED', 'EXECUTED', 'ACTIVE', 'DELIVERED', 'SUCCEEDED'].includes(word)) return colors.green(status);
  if (['WARN', 'PENDING', 'DELETED', 'MEDIUM'].includes(word)) return colors.yellow(status);
  if (['FAIL', 'REJECTED', 'EXPIRED', 'FAILED', 'DEAD', 'REVOKED', 'DISABLED', 'HIGH', 'CRITICAL', 'BROKEN'].includes(word)) return colors.red(status);
  return status;
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Numbers read best aligned right. */
  readonly align?: 'left' | 'right';
  /** Colours the (already padded) cell; widths are measured without colour codes. */
  readonly style?: (text: string, row: T) => string;
}

/**
 * Rows as aligned columns under a header, two spaces apart; the last column is not padded and no line
 * ends in spaces, so the output greps and diffs cleanly.
 */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], colors: Colors = color): string[] {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(visibleLength(column.header), ...cells.map((line) => visibleLength(line[index] as string))));
  const pad = (text: string, index: number): string => {
    if (index === columns.length - 1 && columns[index]?.align !== 'right') return text;
    const fill = ' '.repeat((widths[index] as number) - visibleLength(text));
    return columns[index]?.align === 'right' ? fill + text : text + fill;
  };
  const header = columns.map((column, index) => colors.bold(pad(column.header, index))).join('  ');
  const lines = cells.map((line, rowIndex) =>
    line
      .map((text, index) => {
        const style = columns[index]?.style;
        return style ? style(pad(text, index), rows[rowIndex] as T) : pad(text, index);
      })
      .join('  '),
  );
  return [header, ...lines].map((line) => line.replace(/\s+$/, ''));
}

function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length;
}

/**
 * Runs `work` with a spinner on standard error while it lasts, only when standard error is a terminal:
 * a pipe or a log file gets nothing but the results. `work` is given a way to change the spinner's text
 * (to show progress) only when there is a spinner.
 */
export async function withSpinner<T>(text: string, work: (update?: (text: string) => void) => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work();
  const { default: yoctoSpinner } = await import('yocto-spinner');
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  try {
    return await work((next) => {
      spinner.text = next;
    });
  } finally {
    spinner.stop();
  }
}
