import type { Command } from 'commander';
import type { ChallengeView } from '../identity/index.js';
import { ApiClient, loginTokens, withClientOptions, type ClientFlags } from './api.js';
import { saveLogin } from './credentials.js';
import { withJson } from './json-doc.js';
import { print, printJson } from './output.js';
import { readSecret } from './secret-input.js';

const CHALLENGE_JSON = {
  shape: 'object',
  fields: ['challenge_id', 'purpose', 'approval_id', 'status', 'created_by', 'created_at', 'expires_at', 'approved_by', 'approved_at', 'consumed_at', 'consumed_for'],
} as const;

function showChallenge(challenge: ChallengeView, json: boolean | undefined): void {
  if (json) {
    printJson(challenge);
    return;
  }
  print(`challenge ${challenge.challenge_id}: ${challenge.status}`);
  print(`  purpose  ${challenge.purpose}${challenge.approval_id ? ` (request ${challenge.approval_id})` : ''}`);
  print(`  expires  ${challenge.expires_at}`);
  if (challenge.approved_at) print(`  approved ${challenge.approved_at}`);
  if (challenge.consumed_at) print(`  used     ${challenge.consumed_at} for ${challenge.consumed_for}`);
}

/** A person's own commands: log in and out, who am I, TOTP enrollment, and step-up challenges. */
export function registerAccountCommands(program: Command): void {
  withJson(withClientOptions(program.command('login')), { shape: 'object', fields: ['url', 'username', 'role', 'mfa'] })
    .description('log in as a person; later commands use this login when no API key is set')
    .requiredOption('-u, --user <username>', 'your username')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--totp <code>', 'your current TOTP code, if you enrolled one')
    .addHelpText('after', '\nExamples:\n  airlock login --user alice --totp 123456\n  echo "$PASSWORD" | airlock login --user alice --password-stdin')
    .action(async (flags: ClientFlags & { user: string; passwordStdin?: boolean; totp?: string; json?: boolean }) => {
      const password = await readSecret(`password for ${flags.user}: `, flags.passwordStdin === true);
      const client = new ApiClient(flags);
      const body = await client.call('POST', '/v1/auth/login', { key: null, body: { username: flags.user, password, tokens: true, ...(flags.totp ? { totp: flags.totp } : {}) } });
      saveLogin(client.url, { username: flags.user, ...loginTokens(body) });
      if (flags.json) return printJson({ url: client.url, username: flags.user, role: body.user.role, mfa: body.user.mfa === true });
      print(`logged in to ${client.url} as ${flags.user} (${body.user.role}${body.user.mfa ? ', with TOTP' : ''})`);
    });

  withJson(withClientOptions(program.command('logout')), { shape: 'object', fields: ['url', 'logged_out'] })
    .description('end your login on the server and forget it here')
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const client = new ApiClient(flags);
      await client.call('POST', '/v1/auth/logout');
      saveLogin(client.url, undefined);
      if (flags.json) printJson({ url: client.url, logged_out: true });
      else print('logged out');
    });

  withJson(withClientOptions(program.command('whoami')), { shape: 'object', fields: ['id', 'kind', 'name', 'user', 'role', 'scopes', 'mode', 'environments', 'targets'] })
    .description('show who the server takes you for: principal, role, scopes and mode')
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const me = await new ApiClient(flags).call('GET', '/v1/auth/whoami');
      if (flags.json) return printJson(me);
      print(`${me.user.username} (${me.role}) via ${me.kind === 'api_key' ? `API key "${me.name}"` : 'login'}`);
      print(`  mode    ${me.mode}`);
      print(`  scopes  ${me.scopes.join(', ')}`);
      if (me.environments) print(`  environments  ${me.environments.join(', ')}`);
      if (me.targets) print(`  targets       ${me.targets.join(', ')}`);
    });

  const totp = program.command('totp').description('your TOTP second factor');
  withJson(withClientOptions(totp.command('enroll')), { shape: 'object', fields: ['secret', 'otpauth_uri', 'qr', 'next'], note: 'qr holds the code for a terminal and as an image; next says how to confirm' })
    .description('start TOTP enrollment: shows a QR code to scan; confirm with `airlock totp confirm CODE`')
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const enrollment = await new ApiClient(flags).call('POST', '/v1/auth/totp/enroll');
      if (flags.json) return printJson(enrollment);
      print(enrollment.qr.terminal);
      print(`secret:      ${enrollment.secret}`);
      print(`otpauth URI: ${enrollment.otpauth_uri}`);
      print('scan the code (or type the secret) into an authenticator app, then run: airlock totp confirm <code>');
    });

  withJson(withClientOptions(totp.command('confirm')), { shape: 'object', fields: ['enrolled', 'recovery_codes'] })
    .description('finish enrollment with the first code; prints recovery codes once')
    .argument('<code>')
    .action(async (code: string, flags: ClientFlags & { json?: boolean }) => {
      const result = await new ApiClient(flags).call('POST', '/v1/auth/totp/confirm', { body: { code } });
      if (flags.json) return printJson({ enrolled: result.enrolled, recovery_codes: result.recovery_codes });
      print('TOTP is on. Recovery codes (shown only now; each works once instead of a code):');
      for (const recovery of result.recovery_codes as string[]) print(`  ${recovery}`);
    });

  const challenge = program.command('challenge').description('step-up challenges: plan, approve with a TOTP code, check');
  withJson(withClientOptions(challenge.command('plan')), CHALLENGE_JSON)
    .description('create a challenge for a sensitive operation or a decision')
    .argument('<purpose>', 'what it is for, e.g. "read /etc/shadow"')
    .option('--approval <id>', 'bind it to one request')
    .action(async (purpose: string, flags: ClientFlags & { approval?: string; json?: boolean }) => {
      const result = await new ApiClient(flags).call('POST', '/v1/challenges', { body: { purpose, ...(flags.approval ? { approval_id: flags.approval } : {}) } });
      showChallenge(result.challenge, flags.json);
    });

  withJson(withClientOptions(challenge.command('approve')), CHALLENGE_JSON)
    .description('approve a challenge with your current TOTP code')
    .argument('<id>')
    .argument('<code>')
    .action(async (id: string, code: string, flags: ClientFlags & { json?: boolean }) => {
      const result = await new ApiClient(flags).call('POST', `/v1/challenges/${encodeURIComponent(id)}/approve`, { body: { code } });
      showChallenge(result.challenge, flags.json);
    });

  withJson(withClientOptions(challenge.command('status')), CHALLENGE_JSON)
    .description('show a challenge')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const result = await new ApiClient(flags).call('GET', `/v1/challenges/${encodeURIComponent(id)}`);
      showChallenge(result.challenge, flags.json);
    });
}
