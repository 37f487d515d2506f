/** Exit codes of every command: 1 when a check fails or work cannot be done, 2 for bad configuration or usage. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  InvalidConfig: 2,
} as const;

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes to stdout, waiting when the pipe is full so a large export never buffers in memory. */
export async function write(chunk: string): Promise<void> {
  if (!process.stdout.write(chunk)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}
