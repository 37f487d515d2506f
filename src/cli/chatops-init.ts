import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig, type ResolvedConfig } from '../config/index.js';
import { instanceClashes, siblingInstances } from '../config/instances.js';
import { AirlockError } from '../errors.js';
import { localActor, withRuntime } from './admin.js';
import type { ChatopsInitFlags } from './chatops.js';
import { configFromFlags } from './options.js';
import { print, printJson } from './output.js';

type Mapping = Record<string, unknown>;

interface AdminReport {
  readonly username: string;
  readonly totp: 'generated' | 'existing' | 'missing';
  readonly otpauth_uri?: string;
  readonly recovery_codes?: string[];
}

const CHAT = /^(-?\d{1,20})=([a-z][a-z0-9._-]{1,62})$/;
const isMapping = (value: unknown): value is Mapping => typeof value === 'object' && value !== null && !Array.isArray(value);
const refuse = (message: string, problems: string[] = [message]): AirlockError => new AirlockError('config_invalid', message, { status: 400, details: { problems } });

/**
 * `airlock chatops init`: the runbook's bootstrap step. The new instance's file is the source file with
 * the instance's own settings (id, health port, system mode, its system admins and chats) and without
 * the source's bot (each instance gets its own token, in its `.env` file). It is checked by the loader,
 * against the instances beside it (bot, port), and against the users, before it is written; an existing
 * file is never overwritten, an existing TOTP secret never replaced.
 */
export async function chatopsInit(flags: ChatopsInitFlags): Promise<void> {
  const id = flags.instanceId;
  if (!id) throw refuse('name the new instance: --instance-id ops-a');
  // The source as it resolves for this instance: its store is the one the instance will use.
  const source = await configFromFlags(flags);
  const output = resolve(flags.output ?? join(source.configFile ? dirname(source.configFile) : process.cwd(), `${id}.yaml`));
  if (existsSync(output)) throw refuse(`${output} exists: chatops init never overwrites a configuration (remove it, or choose --output)`);
  const text = instanceFile(flags, id, source);
  const config = checked(text, output, id);
  const clashes = instanceClashes({ botToken: config.telegram.botToken, port: flags.healthPort }, siblingInstances(output));
  if (clashes.length > 0) throw refuse(`the instance would clash with another one:\n${clashes.map((clash) => `  - ${clash}`).join('\n')}`, clashes);

  const admins = await withRuntime(config, async (runtime) => {
    const users = await runtime.store.db.selectFrom('users').selectAll().where('username', 'in', config.telegram.systemAdmins).execute();
    const inactive = config.telegram.systemAdmins.filter((username) => users.find((user) => user.username === username)?.status !== 'active');
    if (inactive.length > 0) throw refuse(`not active users of this instance's store: ${inactive.join(', ')} (airlock users add NAME --role admin --instance-id ${id})`);
    writeFileSync(output, text, { flag: 'wx', mode: 0o640 });
    const reports: AdminReport[] = [];
    for (const user of users) {
      if (user.totp_secret) reports.push({ username: user.username, totp: 'existing' });
      else if (!flags.printOtpauth) reports.push({ username: user.username, totp: 'missing' });
      else {
        const made = await runtime.mfa.provision(user.id, localActor('chatops'));
        reports.push({ username: user.username, totp: 'generated', otpauth_uri: made.otpauth_uri, recovery_codes: made.recovery_codes });
      }
    }
    return reports;
  });

  if (flags.json) {
    printJson({ config_file: output, instance_id: id, health_port: flags.healthPort, system_admins: admins });
    return;
  }
  print(`wrote ${output}: instance ${id}, system mode, health port ${flags.healthPort}`);
  for (const admin of admins) {
    if (admin.totp === 'existing') print(`${admin.username}: TOTP already enrolled (kept as it is)`);
    else if (admin.totp === 'missing') print(`${admin.username}: no TOTP yet (--print-otpauth generates it here; else they enroll with \`airlock totp enroll\` or in the console)`);
    else {
      print(`${admin.username}: TOTP generated; scan this into an authenticator (shown only now):`);
      print(`  ${admin.otpauth_uri}`);
      print(`  recovery codes: ${admin.recovery_codes?.join(' ')}`);
    }
  }
  print(`next: put the bot's token in ${join(dirname(output), `${id}.env`)} (AIRLOCK_TELEGRAM_BOT_TOKEN=…; under systemd also AIRLOCK_GATEWAY_URL=…; mode 0640), then`);
  print(`  airlock config validate --config ${output} --instance-id ${id}`);
  print(`  systemctl enable --now airlock-chat@${id}`);
}

/** The instance's YAML: the source file's settings, then the instance's own. */
function instanceFile(flags: ChatopsInitFlags, id: string, source: ResolvedConfig): string {
  const document: unknown = source.configFile ? parse(readFileSync(source.configFile, 'utf8')) : {};
  const base: Mapping = isMapping(document) ? document : {};
  const telegram = isMapping(base.telegram) ? base.telegram : {};
  // The source's bot and how it reaches Telegram stay with the source: this instance has a bot of its own.
  const { botToken: _token, webhookSecret: _secret, webhookUrl: _url, mode: _mode, chats: _chats, ...kept } = telegram;
  const chats: Record<string, string> = {};
  for (const entry of flags.chat) {
    const match = CHAT.exec(entry.trim());
    if (!match) throw refuse(`--chat ${entry}: give CHAT_ID=username, e.g. 11111111=dana`);
    chats[match[1] as string] = match[2] as string;
  }
  const system = { ...(isMapping(telegram.system) ? telegram.system : {}), ...(flags.target ? { target: flags.target } : {}), ...(flags.containerTarget ? { containerTarget: flags.containerTarget } : {}), ...(flags.environment ? { environment: flags.environment } : {}) };
  const systemAdmins = flags.systemAdmin.length > 0 ? flags.systemAdmin : Array.isArray(telegram.systemAdmins) ? telegram.systemAdmins : [];
  if (systemAdmins.length === 0) throw refuse('name the system admins: --system-admin USERNAME (repeatable)');
  const instance = {
    ...base,
    instanceId: id,
    server: { ...(isMapping(base.server) ? base.server : {}), port: flags.healthPort },
    telegram: { ...kept, chatops: 'system', systemAdmins, chats, system },
  };
  const header = [
    `# Airlock bot instance ${id} (system mode), written by \`airlock chatops init\` from ${source.configFile ?? 'the defaults'}.`,
    `# Its bot token goes in ${id}.env beside this file (AIRLOCK_TELEGRAM_BOT_TOKEN=…); docs/CHATOPS.md.`,
  ];
  return `${header.join('\n')}\n${stringify(instance)}`;
}

/** The loader's verdict on the file as it would be written (next to where it goes, so relative paths read the same). */
function checked(text: string, output: string, id: string): ResolvedConfig {
  const probe = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString('hex')}.check`);
  writeFileSync(probe, text, { mode: 0o600 });
  try {
    const result = loadConfig({ configFile: probe, flags: { instanceId: id } });
    if (!result.ok) throw refuse(`the instance's configuration would not load:\n${result.problems.map((problem) => `  - ${problem}`).join('\n')}`, result.problems);
    return result.config;
  } finally {
    rmSync(probe, { force: true });
  }
}
