import { InvalidArgumentError, type Command } from 'commander';
import type { ApiKeyInfo } from '../identity/index.js';
import { parseScopes, type Scope } from '../identity/scopes.js';
import { localActor, withRuntime } from './admin.js';
import { withJson, type JsonShape } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { color, print, printJson, table } from './output.js';
import { registerRotateAudit } from './rotate-audit.js';

const KEY_FIELDS = ['id', 'prefix', 'name', 'scopes', 'owner', 'created_at', 'created_by', 'expires_at', 'environments', 'targets', 'revoked_at', 'last_used_at'];
const KEY_JSON: JsonShape = { shape: 'object', fields: KEY_FIELDS };

/** "30d", "12h", "90m" or an ISO-8601 time: when the key stops working. */
export function expiryOption(value: string): string {
  const relative = /^(\d{1,5})([mhd])$/.exec(value.trim());
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const at = relative ? Date.now() + Number(relative[1]) * unit[relative[2] as keyof typeof unit] : Date.parse(value);
  if (!Number.isFinite(at) || at <= Date.now()) throw new InvalidArgumentError('give a future time (ISO-8601) or a duration such as 30d, 12h or 90m');
  return new Date(at).toISOString();
}

function listOption(value: string): string[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('name at least one');
  return items;
}

function scopesOption(value: string): Scope[] {
  const parsed = parseScopes(value);
  if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.scopes;
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys (on this machine\'s store); rotate signing keys');

  withJson(withConfigOptions(keys.command('create')), { shape: 'object', fields: ['key', ...KEY_FIELDS], note: 'key is the secret, shown only now' })
    .description('create an API key and print it once; only its hash is stored')
    .requiredOption('--name <name>', 'what the key is for, e.g. "ci-agent"')
    .requiredOption('--scope <scopes>', 'comma-separated scopes, e.g. approvals:request,approvals:read', scopesOption)
    .option('--user <username>', 'the user or service account that owns the key (default: a service account named svc-NAME)')
    .option('--expires <when>', 'when the key stops working: a duration (30d, 12h) or an ISO-8601 time', expiryOption)
    .option('--env <environments>', 'comma-separated environments the key may be used in (default: all)', listOption)
    .option('--target <targets>', 'comma-separated targets the key may be used on (default: all)', listOption)
    .addHelpText(
      'after',
      '\nExamples:\n  airlock keys create --name ci-agent --scope approvals:request,approvals:read,gateway:execute --env dev,test --expires 30d\n  airlock keys create --name alice-laptop --user alice --scope approvals:read,approvals:decide',
    )
    .action(async (flags: ConfigFlags & { name: string; scope: Scope[]; user?: string; expires?: string; env?: string[]; target?: string[]; json?: boolean }) => {
      const created = await withRuntime(await configFromFlags(flags), (runtime) =>
        runtime.keys.create({
          name: flags.name,
          scopes: flags.scope,
          actor: localActor('keys'),
          ...(flags.user ? { owner: flags.user } : {}),
          ...(flags.expires ? { expiresAt: flags.expires } : {}),
          ...(flags.env ? { environments: flags.env } : {}),
          ...(flags.target ? { targets: flags.target } : {}),
        }),
      );
      if (flags.json) return printJson({ key: created.key, ...created.info });
      print(`created API key "${created.info.name}" (${created.info.prefix}) for ${created.info.owner} with scopes ${created.info.scopes.join(', ')}${created.info.expires_at ? `, expiring ${created.info.expires_at}` : ''}`);
      print(`key (shown only now, store it): ${created.key}`);
    });

  withJson(withConfigOptions(keys.command('list')), { ...KEY_JSON, shape: 'array' })
    .description('list API keys (never their secrets)')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const list = await withRuntime(await configFromFlags(flags), (runtime) => runtime.keys.list());
      if (flags.json) return printJson(list);
      if (list.length === 0) return print('no API keys');
      const state = (key: ApiKeyInfo): string =>
        key.revoked_at ? `revoked ${key.revoked_at}` : `active, last used ${key.last_used_at ?? 'never'}${key.expires_at ? `, expires ${key.expires_at}` : ''}`;
      const lines = table(list, [
        { header: 'PREFIX', value: (key) => key.prefix },
        { header: 'NAME', value: (key) => key.name },
        { header: 'OWNER', value: (key) => key.owner ?? '-' },
        { header: 'SCOPES', value: (key) => key.scopes.join(',') },
        { header: 'STATE', value: state, style: (text, key) => (key.revoked_at ? color.red(text) : text) },
        { header: 'ID', value: (key) => key.id },
      ]);
      for (const line of lines) print(line);
    });

  withJson(withConfigOptions(keys.command('revoke')), KEY_JSON, 'print the revoked key as JSON')
    .description('revoke an API key at once, by id or prefix')
    .argument('<key>', 'the key\'s id or its prefix (as shown by `airlock keys list`)')
    .action(async (idOrPrefix: string, flags: ConfigFlags & { json?: boolean }) => {
      const revoked = await withRuntime(await configFromFlags(flags), (runtime) => runtime.keys.revoke(idOrPrefix, localActor('keys')));
      if (flags.json) printJson(revoked);
      else print(`revoked API key "${revoked.name}" (${revoked.prefix})`);
    });

  withJson(withConfigOptions(keys.command('rotate-signing')), { shape: 'object', fields: ['previous_kid', 'kid', 'previous_published_until'] })
    .description('replace the capability-token signing key: new tokens carry a new kid; the old public key stays in the JWKS until its tokens have expired')
    .addHelpText(
      'after',
      '\nEvery API instance sharing the keys folder signs with the new key within a second; gateways that fetch the JWKS\npick it up on the first token that names it. Nothing needs a restart.\n\nExamples:\n  airlock keys rotate-signing --keys-dir /etc/airlock/keys',
    )
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = await configFromFlags(flags);
      const { rotateSigningKey } = await import('../tokens/index.js');
      const rotation = await withRuntime(config, async (runtime) => {
        const rotated = rotateSigningKey(config.paths.tokenKeyFile, config.paths.retiredKeysDir, config.tokens.ttlSeconds);
        await runtime.audit.record({
          actor: localActor('keys'),
          action: 'keys.signing_rotated',
          data: { use: 'token', previous_kid: rotated.previousKid, kid: rotated.kid, previous_published_until: rotated.notAfter },
        });
        return rotated;
      });
      if (flags.json) return printJson({ previous_kid: rotation.previousKid, kid: rotation.kid, previous_published_until: rotation.notAfter });
      print(`token signing key rotated: new kid ${rotation.kid}; the previous key ${rotation.previousKid} stays published until ${rotation.notAfter}`);
    });

  registerRotateAudit(keys);
}
