#!/usr/bin/env node
import { CommanderError } from 'commander';
import { isAirlockError, messageOf } from '../errors.js';
import { errorColor, ExitCode } from './output.js';
import { buildProgram } from './program.js';

// A reader that stops early (`airlock audit export | head`) is not an error: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage mistakes were already printed by commander.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidConfig;
  }
  process.stderr.write(`${errorColor.red('airlock:')} ${messageOf(error)}${isAirlockError(error) ? ` [${error.code}]` : ''}\n`);
  if (process.env.AIRLOCK_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return isAirlockError(error) && error.code === 'config_invalid' ? ExitCode.InvalidConfig : ExitCode.Failed;
}
