import { InvalidArgumentError, type Command } from 'commander';
import { RoleSchema, type Role, type UserInfo } from '../identity/index.js';
import { localActor, withRuntime } from './admin.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';
import { readSecret } from './secret-input.js';

function roleArgument(value: string): Role {
  const parsed = RoleSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`the role is one of ${RoleSchema.options.join(', ')}`);
  return parsed.data;
}

function describeUser(user: UserInfo): string {
  const totp = user.kind === 'human' ? (user.totp_enrolled ? 'totp' : 'no totp') : 'service account';
  const lock = user.locked_until && user.locked_until > new Date().toISOString() ? `, locked until ${user.locked_until}` : '';
  return `${user.username.padEnd(20)}  ${user.role.padEnd(9)}  ${user.status.padEnd(8)}  ${totp}${lock}`;
}

type PasswordFlags = ConfigFlags & { password?: boolean; passwordStdin?: boolean };

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

  withPasswordOptions(withConfigOptions(users.command('add')))
    .description('add a person (or, with --service, a service account that only owns API keys)')
    .argument('<username>')
    .requiredOption('--role <role>', `one of ${RoleSchema.options.join(', ')}`, roleArgument)
    .option('--service', 'a service account: no password, no login, only API keys')
    .addHelpText('after', '\nExamples:\n  airlock users add alice --role approver\n  echo "$PASSWORD" | airlock users add bob --role requester --password-stdin\n  airlock users add ci --role requester --service')
    .action(async (username: string, flags: PasswordFlags & { role: Role; service?: boolean }) => {
      const password = flags.service ? undefined : await chosenPassword(flags);
      const created = await withRuntime(configFromFlags(flags), (runtime) =>
        runtime.users.create({ username, role: flags.role, kind: flags.service ? 'service' : 'human', actor: localActor('users'), ...(password ? { password } : {}) }),
      );
      print(`added ${created.user.kind === 'service' ? 'service account' : 'user'} ${username} with the role ${flags.role}`);
      if (created.password) print(`password (shown only now): ${created.password}`);
    });

  withConfigOptions(users.command('list'))
    .description('list users and service accounts (never a password or secret)')
    .option('--json', 'print JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const list = await withRuntime(configFromFlags(flags), (runtime) => runtime.users.list());
      if (flags.json) print(JSON.stringify(list, null, 2));
      else for (const user of list) print(describeUser(user));
    });

  withConfigOptions(users.command('disable'))
    .description('disable a user: its sessions and API keys stop working at once')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags) => {
      const result = await withRuntime(configFromFlags(flags), (runtime) => runtime.users.disable(username, localActor('users')));
      print(`disabled ${username}: ended ${result.sessions} session(s), revoked ${result.keys} API key(s)`);
    });

  withConfigOptions(users.command('enable'))
    .description('enable a disabled user again (its revoked keys stay revoked)')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags) => {
      await withRuntime(configFromFlags(flags), (runtime) => runtime.users.enable(username, localActor('users')));
      print(`enabled ${username}`);
    });

  withPasswordOptions(withConfigOptions(users.command('reset-password')))
    .description("set a new password, end the user's sessions and lift a lockout")
    .argument('<username>')
    .action(async (username: string, flags: PasswordFlags) => {
      const password = await chosenPassword(flags);
      const result = await withRuntime(configFromFlags(flags), (runtime) => runtime.users.resetPassword(username, localActor('users'), password));
      print(`reset the password of ${username}`);
      if (result.password) print(`password (shown only now): ${result.password}`);
    });

  withConfigOptions(users.command('set-role'))
    .description("change a user's role; its API keys are cut down to the new role's scopes at once")
    .argument('<username>')
    .argument('<role>', `one of ${RoleSchema.options.join(', ')}`, roleArgument)
    .action(async (username: string, role: Role, flags: ConfigFlags) => {
      await withRuntime(configFromFlags(flags), (runtime) => runtime.users.setRole(username, role, localActor('users')));
      print(`${username} now has the role ${role}`);
    });

  withConfigOptions(users.command('reset-totp'))
    .description('remove a user\'s TOTP (a lost device); they enroll again with `airlock totp enroll`')
    .argument('<username>')
    .action(async (username: string, flags: ConfigFlags) => {
      await withRuntime(configFromFlags(flags), async (runtime) => runtime.mfa.reset((await runtime.users.get(username)).id, localActor('users')));
      print(`removed the TOTP of ${username}`);
    });
}
