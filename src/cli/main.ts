#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isAirlockError, messageOf } from '../errors.js';
import { VERSION } from '../version.js';
import { registerAccountCommands } from './account.js';
import { registerAuditCommands } from './audit.js';
import { registerBackupCommands } from './backup.js';
import { registerConfigCommands } from './config.js';
import { registerIncidentCommands } from './incidents.js';
import { registerInit } from './init.js';
import { registerKeyCommands } from './keys.js';
import { registerUserCommands } from './users.js';
import { registerTargetCommands } from './targets.js';
import { registerMcpCommand } from './mcp.js';
import { registerMigrate } from './migrate.js';
import { registerFlowCommands } from './flow.js';
import { registerPolicyCommands } from './policy.js';
import { registerReceiptCommands } from './receipt.js';
import { registerSmoke } from './smoke.js';
import { ExitCode } from './output.js';
import { registerServe } from './serve.js';
import { registerWebhookCommands } from './webhooks.js';
import { registerWorkspaceCommands } from './workspaces.js';

const program = new Command('airlock')
  .description('Airlock: an approval gate between AI agents (and people) and real machines')
  .version(VERSION, '-v, --version')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  airlock serve                      start the server on 127.0.0.1:5002 (SQLite in ./.airlock)
  airlock config validate            print the resolved settings and every problem
  airlock audit verify               check the whole audit chain
  airlock audit export > audit.jsonl

Settings come from flags, then AIRLOCK_* variables, then airlock.yaml, then defaults.`,
  );

// A reader that stops early (`airlock audit export | head`) is not an error: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

registerServe(program);
registerInit(program);
registerConfigCommands(program);
registerMigrate(program);
registerKeyCommands(program);
registerUserCommands(program);
registerAccountCommands(program);
registerTargetCommands(program);
registerReceiptCommands(program);
registerFlowCommands(program);
registerPolicyCommands(program);
registerSmoke(program);
registerAuditCommands(program);
registerBackupCommands(program);
registerIncidentCommands(program);
registerMcpCommand(program);
registerWebhookCommands(program);
registerWorkspaceCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage mistakes were already printed by commander.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidConfig;
  }
  process.stderr.write(`airlock: ${messageOf(error)}${isAirlockError(error) ? ` [${error.code}]` : ''}\n`);
  if (process.env.AIRLOCK_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return isAirlockError(error) && error.code === 'config_invalid' ? ExitCode.InvalidConfig : ExitCode.Failed;
}
