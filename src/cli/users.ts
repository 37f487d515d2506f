import { Argument, Option, type Command } from 'commander';
import type { UserInfo } from '../identity/index.js';
import { ROLES, type Role } from '../identity/roles.js';
import { localActor, withRuntime } from './admin.js';
import { withJson, type JsonShape } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson, statusColor, table } from './output.js';
import { readSecret } from './secret-input.js';

const USER_FIELDS = ['id', 'username', 'kind', 'role', 'status', 'totp_enrolled', 'created_at', 'created_by', 'updated_at', 'locked_until'];
/** What a change to one user prints: the user as it is now. */
const CHANGED_JSON: JsonShape = { shape: 'object', fields: ['user'], note: `user has ${USER_FIELDS.join(', ')}` };

function lockOf(user: UserInfo): string {
  return user.locked_until && user.locked_until > new Date().toISOString() ? `, locked until ${user.locked_until}` : '';
}

type PasswordFlags = ConfigFlags & { password?: boolean; passwordStdin?: boolean; json?: boolean };

/** --password asks for one (or reads it from stdin); without it a strong one is generated and shown once. */
async function chosenPassword(flags: PasswordFlags): Promise<string | undefined> {
  return flags.password || flags.passwordStdin ? readSecret('new password: ', flags.passwordStdin === true) : undefined;
}

function withPasswordOptions(command: Command): Command {
  return command
    .option('--password', 'type the password (otherwise a strong one is generated and shown once)')
    .option('--password-stdin', 'read the password from the first line of standard input');
}

export function registerUserCommands(program: Command): void {
  const users = program.command('users').description("manage people and service accounts (on this machine's store)");

  withJson(withPasswordOptions(withConfigOptions(users.command('add'))), { ...CHANGED_JSON, optional: ['password'], note: `${CHANGED_JSON.note}; password is the generated one, shown only now` })
    .description('add a person (or, with --service, a service account that only owns API keys)')
    .argument('<username>')
    .addOption(new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory())
    .option('--service', 'a service account: no password, no login, only API keys')
    .addHelpText('after', '\nExamples:\n  airlock users add alice --role approver\n  echo "$PASSWORD" | airlock users add bob --role requester --password-stdin\n  airlock users add ci --role requester --service')
    .action(async (username: string, flags: PasswordFlags & { role: Role; service?: boolean }) => {
      const password = flags.service ? undefined : await chosenPassword(flags);
      const created = await withRuntime(await configFromFlags(flags), (runtime) =>
        runtime.users.create({ username, role: flags.role, kind: flags.service ? 'service' : 'human', actor: localActor('users'), ...(password ? { password } : {}) }),
      );
      if (flags.json) return printJson({ user: created.user, ...(created.password ? { password: created.password } : {}) });
      print(`added ${created.user.kind === 'service' ? 'service account' : 'user'} ${username} with the role ${flags.role}`);
      if (created.password) print(`password (shown only now): ${created.password}`);
    });

  withJson(withConfigOptions(users.command('list')), { shape: 'array', fields: USER_FIELDS })
    .description('list users and service accounts (never a password or secret)')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const list = await withRuntime(await configFromFlags(flags), (runtime) => runtime.users.list());
      if (flags.json) return printJson(list);
      if (list.length === 0) return print('no users');
      const lines = table(list, [
        { header: 'USERNAME', value: (user) => user.username },
        { header: 'ROLE', value: (user) => user.role },
        { header: 'STATUS', value: (user) => user.status, style: (text) => statusColor(text) },
        { header: 'SECOND FACTOR', value: (user) => `${user.kind === 'human' ? (user.totp_enrolled ? 'totp' : 'no totp') : 'service account'}${lockOf(user)}` },
      ]);
      for (const line of lines) print(line);
    });

  withJson(withConfigOptions(users.command('disable')), { shape: 'object', fields: ['user', 'sessions', 'keys'], note: 'sessions and keys count what was ended and revoked' })
    .description('disable a user: its sessions and API keys stop working at once')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags & { json?: boolean }) => {
      const result = await withRuntime(await configFromFlags(flags), (runtime) => runtime.users.disable(username, localActor('users')));
      if (flags.json) return printJson(result);
      print(`disabled ${username}: ended ${result.sessions} session(s), revoked ${result.keys} API key(s)`);
    });

  withJson(withConfigOptions(users.command('enable')), CHANGED_JSON)
    .description('enable a disabled user again (its revoked keys stay revoked)')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags & { json?: boolean }) => {
      const result = await withRuntime(await configFromFlags(flags), (runtime) => runtime.users.enable(username, localActor('users')));
      if (flags.json) return printJson(result);
      print(`enabled ${username}`);
    });

  withJson(withPasswordOptions(withConfigOptions(users.command('reset-password'))), { ...CHANGED_JSON, optional: ['password'], note: `${CHANGED_JSON.note}; password is the generated one, shown only now` })
    .description("set a new password, end the user's sessions and lift a lockout")
    .argument('<username>')
    .action(async (username: string, flags: PasswordFlags) => {
      const password = await chosenPassword(flags);
      const result = await withRuntime(await configFromFlags(flags), (runtime) => runtime.users.resetPassword(username, localActor('users'), password));
      if (flags.json) return printJson({ user: result.user, ...(result.password ? { password: result.password } : {}) });
      print(`reset the password of ${username}`);
      if (result.password) print(`password (shown only now): ${result.password}`);
    });

  withJson(withConfigOptions(users.command('set-role')), CHANGED_JSON)
    .description("change a user's role; its API keys are cut down to the new role's scopes at once")
    .argument('<username>')
    .addArgument(new Argument('<role>', 'the new role').choices(ROLES))
    .action(async (username: string, role: Role, flags: ConfigFlags & { json?: boolean }) => {
      const result = await withRuntime(await configFromFlags(flags), (runtime) => runtime.users.setRole(username, role, localActor('users')));
      if (flags.json) return printJson(result);
      print(`${username} now has the role ${role}`);
    });

  withJson(withConfigOptions(users.command('reset-totp')), CHANGED_JSON)
    .description('remove a user\'s TOTP (a lost device); they enroll again with `airlock totp enroll`')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags & { json?: boolean }) => {
      const user = await withRuntime(await configFromFlags(flags), async (runtime) => {
        await runtime.mfa.reset((await runtime.users.get(username)).id, localActor('users'));
        return runtime.users.get(username);
      });
      if (flags.json) return printJson({ user });
      print(`removed the TOTP of ${username}`);
    });
}
