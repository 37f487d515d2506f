import { InvalidArgumentError, type Command } from 'commander';
import { parseScopes, type Scope } from '../identity/index.js';
import { localActor, withRuntime } from './admin.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';

function scopesOption(value: string): Scope[] {
  const parsed = parseScopes(value);
  if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.scopes;
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys (on this machine\'s store)');

  withConfigOptions(keys.command('create'))
    .description('create an API key and print it once; only its hash is stored')
    .requiredOption('--name <name>', 'what the key is for, e.g. "ci-agent"')
    .requiredOption('--scope <scopes>', 'comma-separated scopes, e.g. approvals:request,approvals:read', scopesOption)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  airlock keys create --name ci-agent --scope approvals:request,approvals:read,gateway:execute\n  airlock keys create --name approver --scope approvals:read,approvals:decide')
    .action(async (flags: ConfigFlags & { name: string; scope: Scope[]; json?: boolean }) => {
      const created = await withRuntime(configFromFlags(flags), (runtime) =>
        runtime.keys.create({ name: flags.name, scopes: flags.scope, actor: localActor('keys') }),
      );
      if (flags.json) {
        print(JSON.stringify({ key: created.key, ...created.info }, null, 2));
        return;
      }
      print(`created API key "${created.info.name}" (${created.info.prefix}) with scopes ${created.info.scopes.join(', ')}`);
      print(`key (shown only now, store it): ${created.key}`);
    });

  withConfigOptions(keys.command('list'))
    .description('list API keys (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const list = await withRuntime(configFromFlags(flags), (runtime) => runtime.keys.list());
      if (flags.json) {
        print(JSON.stringify(list, null, 2));
        return;
      }
      for (const key of list) {
        const state = key.revoked_at ? `revoked ${key.revoked_at}` : `active, last used ${key.last_used_at ?? 'never'}`;
        print(`${key.prefix}  ${key.name.padEnd(20)}  ${key.scopes.join(',').padEnd(40)}  ${state}  (${key.id})`);
      }
      if (list.length === 0) print('no API keys');
    });

  withConfigOptions(keys.command('revoke'))
    .description('revoke an API key at once, by id or prefix')
    .argument('<key>', 'the key\'s id or its prefix (as shown by `airlock keys list`)')
    .action(async (idOrPrefix: string, flags: ConfigFlags) => {
      const revoked = await withRuntime(configFromFlags(flags), (runtime) => runtime.keys.revoke(idOrPrefix, localActor('keys')));
      print(`revoked API key "${revoked.name}" (${revoked.prefix})`);
    });
}
