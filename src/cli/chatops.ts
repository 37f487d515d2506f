import type { Command } from 'commander';
import { withJson } from './json-doc.js';
import { withConfigOptions, wholeNumber, type ConfigFlags } from './options.js';

export interface ChatopsInitFlags extends ConfigFlags {
  healthPort: number;
  output?: string;
  systemAdmin: string[];
  chat: string[];
  target?: string;
  containerTarget?: string;
  environment?: string;
  printOtpauth?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerChatopsCommands(program: Command): void {
  const chatops = program.command('chatops').description('Telegram bot instances that run system operations through the gate (docs/CHATOPS.md)');
  withJson(withConfigOptions(chatops.command('init')), {
    shape: 'object',
    fields: ['config_file', 'instance_id', 'health_port', 'system_admins'],
    note: 'system_admins lists {username, totp: generated|existing|missing}, with otpauth_uri and recovery_codes (shown only now) for a generated one',
  })
    .description("write a system-mode bot instance's configuration beside the source one, and give its system admins TOTP; never overwrites")
    .requiredOption('--health-port <port>', "the instance's own port (server.port): its /health", wholeNumber(1))
    .option('-o, --output <file>', 'where to write it (default: <folder of --config>/<instance id>.yaml)')
    .option('--system-admin <username>', 'a user who may use the bot (repeatable; default: the source telegram.systemAdmins)', collect, [])
    .option('--chat <id=username>', "a system admin's chat (repeatable)", collect, [])
    .option('--target <id>', 'where sys commands run unless they say --target (telegram.system.target)')
    .option('--container-target <id>', 'where sys docker commands run (telegram.system.containerTarget)')
    .option('--environment <name>', 'the environment of the requests (telegram.system.environment)')
    .option('--print-otpauth', 'generate TOTP for system admins without it and print each otpauth:// URI and recovery codes, once')
    .addHelpText('after', '\nExamples:\n  airlock chatops init --config /etc/airlock/airlock.yaml --instance-id ops-a --health-port 18810 --system-admin dana --chat 11111111=dana --print-otpauth')
    .action(async (flags: ChatopsInitFlags) => {
      const { chatopsInit } = await import('./chatops-init.js');
      await chatopsInit(flags);
    });
}
