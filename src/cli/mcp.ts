import type { Command } from 'commander';
import { AirlockError } from '../errors.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';

export function registerMcpCommand(program: Command): void {
  withClientOptions(program.command('mcp'))
    .description('serve MCP on standard input/output for a local client (Claude Desktop, Claude Code), through a running Airlock')
    .option('--stdio', 'speak MCP on standard input and output (the only transport of this command; /mcp serves HTTP)')
    .addHelpText('after', '\nExample (the client starts it):\n  AIRLOCK_URL=http://127.0.0.1:5002 AIRLOCK_API_KEY=alk_… airlock mcp --stdio')
    .action(async (flags: ClientFlags & { stdio?: boolean }) => {
      if (!flags.stdio) throw new AirlockError('usage', 'say --stdio: `airlock mcp --stdio` bridges standard input/output to the server\'s /mcp');
      const client = new ApiClient(flags);
      if (!(await client.credential())) throw new AirlockError('credentials_missing', 'set AIRLOCK_API_KEY (or --key-file), or run `airlock login` first');
      const { bridgeStdio } = await import('../mcp/stdio.js');
      // Standard output carries the protocol: everything else goes to standard error.
      await bridgeStdio({ url: client.url, credential: () => client.credential(), log: (line) => process.stderr.write(`${line}\n`) });
    });
}
