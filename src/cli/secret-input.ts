import { createInterface } from 'node:readline';
import { AirlockError } from '../errors.js';

/**
 * Reads a secret: the first line of standard input with --password-stdin (for scripts), otherwise a
 * prompt on the terminal that does not echo what is typed. Never from a flag or a variable, which
 * would leave it in shell history or the process list.
 */
export async function readSecret(prompt: string, fromStdin: boolean): Promise<string> {
  if (!fromStdin && !process.stdin.isTTY) {
    throw new AirlockError('password_missing', 'no terminal to ask for the password on: pass --password-stdin and pipe it in');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: !fromStdin });
  if (!fromStdin) {
    process.stderr.write(prompt);
    // Keep the typed characters off the screen.
    (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = () => undefined;
  }
  try {
    const line = await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve);
      rl.once('close', () => reject(new AirlockError('password_missing', 'no password was given')));
    });
    if (!fromStdin) process.stderr.write('\n');
    return line.replace(/\r$/, '');
  } finally {
    rl.close();
  }
}
