import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerAccountCommands } from './account.js';
import { registerAuditCommands } from './audit.js';
import { registerBackupCommands } from './backup.js';
import { registerChatopsCommands } from './chatops.js';
import { registerCompletion } from './completion.js';
import { registerConfigCommands } from './config.js';
import { registerDoctor } from './doctor.js';
import { registerFlowCommands } from './flow.js';
import { registerIncidentCommands } from './incidents.js';
import { registerInit } from './init.js';
import { registerKeyCommands } from './keys.js';
import { registerMcpCommand } from './mcp.js';
import { registerMigrate } from './migrate.js';
import { registerPolicyCommands } from './policy.js';
import { registerReceiptCommands } from './receipt.js';
import { registerServe } from './serve.js';
import { registerSmoke } from './smoke.js';
import { registerTargetCommands } from './targets.js';
import { registerUserCommands } from './users.js';
import { registerWebhookCommands } from './webhooks.js';
import { registerWorkspaceCommands } from './workspaces.js';

/**
 * Every command of `airlock`. The modules imported here only describe their commands: what a command
 * does (the store, the server, the executors) is imported when it runs, so that `--help`, `--version`
 * and the client commands start without loading the server. test/cli/startup.test.ts keeps it so.
 */
export function buildProgram(): Command {
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
  airlock doctor                     check the whole local setup, with a fix for each problem
  airlock config validate            print the resolved settings and every problem
  airlock audit verify               check the whole audit chain
  airlock audit export > audit.jsonl

Settings come from flags, then AIRLOCK_* variables, then airlock.yaml, then defaults.
Commands that print results take --json for scripts (docs/CLI.md lists the fields).`,
    );

  registerServe(program);
  registerInit(program);
  registerConfigCommands(program);
  registerDoctor(program);
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
  registerChatopsCommands(program);
  registerWorkspaceCommands(program);
  registerCompletion(program);
  return program;
}
