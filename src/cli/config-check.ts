import { existsSync } from 'node:fs';
import { readPolicyFile } from '../approvals/index.js';
import { describeSettings, describeStore, maskUrl, type ResolvedConfig } from '../config/index.js';
import { messageOf } from '../errors.js';
import { createLogger } from '../http/logger.js';
import { connectRedis } from '../http/rate-limit.js';
import { allowlistProblems } from '../notify/index.js';
import { loadTargetsFile } from '../targets/load.js';
import { withStore } from './admin.js';
import { configFromFlags, type ConfigFlags, type ServerFlags } from './options.js';
import { ExitCode, print, printJson } from './output.js';

/** The configuration, or every problem that keeps it from loading. */
export async function loadForCheck(flags: ConfigFlags & ServerFlags): Promise<{ ok: true; config: ResolvedConfig } | { ok: false; problems: string[] }> {
  try {
    return { ok: true, config: await configFromFlags(flags, flags) };
  } catch (error) {
    return { ok: false, problems: (error as { details?: { problems?: string[] } }).details?.problems ?? [messageOf(error)] };
  }
}

/** Every problem of targets.yaml, each prefixed with the file's setting. */
export function targetProblems(config: ResolvedConfig): string[] {
  if (!config.targetsFile) return [];
  try {
    loadTargetsFile(config.targetsFile, config);
    return [];
  } catch (error) {
    return ((error as { details?: { problems?: string[] } }).details?.problems ?? [messageOf(error)]).map((problem) => `targets.file: ${problem}`);
  }
}

/** Every problem of policy.yaml, each prefixed with the file's setting: what a start or a reload would refuse. */
export function policyProblems(config: ResolvedConfig): string[] {
  try {
    readPolicyFile(config.policyFile);
    return [];
  } catch (error) {
    return ((error as { details?: { problems?: string[] } }).details?.problems ?? [messageOf(error)]).map((problem) => `policy.file: ${problem}`);
  }
}

/** `airlock config validate` and `airlock serve --validate-only`. Returns the exit code. */
export async function validateConfig(flags: ConfigFlags & ServerFlags, json: boolean): Promise<number> {
  const loaded = await loadForCheck(flags);
  if (!loaded.ok) {
    reportProblems(loaded.problems, json);
    return ExitCode.InvalidConfig;
  }
  const resolved = loaded.config;
  const database = await checkDatabase(resolved);
  const redis = await checkRedis(resolved);
  const telegram = database.ok ? await checkTelegramChats(resolved) : { problems: [], notes: [] };
  const problems = [
    ...(database.ok ? [] : [`database: ${database.message}`]),
    ...(redis.ok ? [] : [`redis: ${redis.message}`]),
    ...targetProblems(resolved),
    ...policyProblems(resolved),
    ...telegram.problems,
    ...(await instanceProblems(resolved)),
  ];
  const notes = [...telegram.notes, ...(Object.keys(resolved.telegram.chats).length > 0 && !resolved.telegram.botToken ? ['telegram: chats are listed but there is no bot token, so Telegram is off'] : [])];
  if (json) {
    printJson({
      valid: problems.length === 0,
      problems,
      notes,
      configFile: resolved.configFile ?? null,
      policyFile: resolved.policyFile ?? null,
      settings: describeSettings(resolved),
      paths: resolved.paths,
      database: describeStore(resolved),
    });
  } else {
    print(`configuration file: ${resolved.configFile ?? '(none)'}`);
    print(`policy file: ${resolved.policyFile ?? '(none: built-in rules)'}`);
    print('settings:');
    for (const line of describeSettings(resolved)) print(`  ${line.key} = ${JSON.stringify(line.value)}  (${line.source})`);
    print('paths:');
    for (const [name, path] of Object.entries(resolved.paths)) print(`  ${name} = ${path ?? '(none)'}`);
    print(`database: ${describeStore(resolved)}: ${database.ok ? 'reachable' : 'UNREACHABLE'}`);
    print(`rate-limit store: ${resolved.redis.url ? `Redis ${maskUrl(resolved.redis.url)}: ${redis.ok ? 'reachable' : 'UNREACHABLE'}` : 'in memory (per process)'}`);
    print(`telegram: ${resolved.telegram.botToken ? `on (${resolved.telegram.mode}, ${Object.keys(resolved.telegram.chats).length} chat(s))` : 'off (no bot token)'}`);
    for (const note of notes) print(`note: ${note}`);
    if (problems.length === 0) print('configuration is valid');
    else reportProblems(problems, false);
  }
  return problems.length === 0 ? ExitCode.Ok : ExitCode.InvalidConfig;
}

/** The instances configured beside this one (the systemd layout: one folder of `<instance>.yaml`) must not share its bot or port. */
async function instanceProblems(config: ResolvedConfig): Promise<string[]> {
  if (!config.configFile) return [];
  const { instanceClashes, siblingInstances } = await import('../config/instances.js');
  return instanceClashes({ botToken: config.telegram.botToken, port: config.server.port }, siblingInstances(config.configFile));
}

function reportProblems(problems: string[], json: boolean): void {
  if (json) {
    printJson({ valid: false, problems });
    return;
  }
  process.stderr.write(`configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n`);
  for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
}

export async function checkDatabase(config: ResolvedConfig): Promise<{ ok: true } | { ok: false; message: string }> {
  // SQLite "reachability" would create the file; a writable folder (checked while loading) is enough.
  if (config.store.dialect === 'sqlite') return { ok: true };
  try {
    await withStore(config, async () => undefined);
    return { ok: true };
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
}

/**
 * Chats mapped to usernames the users table does not have (or has disabled). The store is read, never
 * created: a SQLite file that does not exist yet has no users.
 */
export async function checkTelegramChats(config: ResolvedConfig): Promise<{ problems: string[]; notes: string[] }> {
  if (Object.keys(config.telegram.chats).length === 0) return { problems: [], notes: [] };
  const { chats } = config.telegram;
  try {
    if (config.store.dialect === 'sqlite' && !existsSync(config.store.file)) return await allowlistProblems(undefined, chats, config.telegram);
    return await withStore(config, (store) => allowlistProblems(store, chats, config.telegram).catch(() => allowlistProblems(undefined, chats, config.telegram)));
  } catch (error) {
    return { problems: [`telegram.chats: cannot read the users (${messageOf(error)})`], notes: [] };
  }
}

export async function checkRedis(config: ResolvedConfig): Promise<{ ok: true } | { ok: false; message: string }> {
  if (!config.redis.url) return { ok: true };
  try {
    const redis = await connectRedis(config.redis.url, { logger: createLogger('silent'), connectTimeoutMs: config.database.connectTimeoutMs });
    redis.disconnect();
    return { ok: true };
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
}
