import type { Command } from 'commander';
import { describeSettings, describeStore, maskUrl, type ResolvedConfig } from '../config/index.js';
import { messageOf } from '../errors.js';
import { connectRedis } from '../http/rate-limit.js';
import { createLogger } from '../http/logger.js';
import { openConfiguredStore } from '../runtime.js';
import { configFromFlags, withConfigOptions, withServerOptions, type ConfigFlags } from './options.js';
import { ExitCode, print } from './output.js';
import { loadTargetsFile } from '../targets/load.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  withServerOptions(withConfigOptions(config.command('validate')))
    .description('load every setting, print them resolved (secrets masked) and check the database; exit 2 listing every problem')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  airlock config validate\n  AIRLOCK_PORT=8080 airlock config validate --instance-id canary --json')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      process.exitCode = await validateConfig(flags, Boolean(flags.json));
    });
}

/** Every problem of targets.yaml, each prefixed with the file's setting. */
function targetProblems(config: ResolvedConfig): string[] {
  if (!config.targetsFile) return [];
  try {
    loadTargetsFile(config.targetsFile, config);
    return [];
  } catch (error) {
    return ((error as { details?: { problems?: string[] } }).details?.problems ?? [messageOf(error)]).map((problem) => `targets.file: ${problem}`);
  }
}

/** `airlock config validate` and `airlock serve --validate-only`. Returns the exit code. */
export async function validateConfig(flags: ConfigFlags, json: boolean): Promise<number> {
  let resolved: ResolvedConfig;
  try {
    resolved = configFromFlags(flags);
  } catch (error) {
    const problems = (error as { details?: { problems?: string[] } }).details?.problems ?? [messageOf(error)];
    reportProblems(problems, json);
    return ExitCode.InvalidConfig;
  }
  const database = await checkDatabase(resolved);
  const redis = await checkRedis(resolved);
  const problems = [...(database.ok ? [] : [`database: ${database.message}`]), ...(redis.ok ? [] : [`redis: ${redis.message}`]), ...targetProblems(resolved)];
  if (json) {
    print(
      JSON.stringify(
        {
          valid: problems.length === 0,
          problems,
          configFile: resolved.configFile ?? null,
          policyFile: resolved.policyFile ?? null,
          settings: describeSettings(resolved),
          paths: resolved.paths,
          database: describeStore(resolved),
        },
        null,
        2,
      ),
    );
  } else {
    print(`configuration file: ${resolved.configFile ?? '(none)'}`);
    print(`policy file: ${resolved.policyFile ?? '(none: built-in rules)'}`);
    print('settings:');
    for (const line of describeSettings(resolved)) print(`  ${line.key} = ${JSON.stringify(line.value)}  (${line.source})`);
    print('paths:');
    for (const [name, path] of Object.entries(resolved.paths)) print(`  ${name} = ${path ?? '(none)'}`);
    print(`database: ${describeStore(resolved)}: ${database.ok ? 'reachable' : 'UNREACHABLE'}`);
    print(`rate-limit store: ${resolved.redis.url ? `Redis ${maskUrl(resolved.redis.url)}: ${redis.ok ? 'reachable' : 'UNREACHABLE'}` : 'in memory (per process)'}`);
    if (problems.length === 0) print('configuration is valid');
    else reportProblems(problems, false);
  }
  return problems.length === 0 ? ExitCode.Ok : ExitCode.InvalidConfig;
}

function reportProblems(problems: string[], json: boolean): void {
  if (json) {
    print(JSON.stringify({ valid: false, problems }, null, 2));
    return;
  }
  process.stderr.write(`configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n`);
  for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
}

async function checkDatabase(config: ResolvedConfig): Promise<{ ok: true } | { ok: false; message: string }> {
  // SQLite "reachability" would create the file; a writable folder (checked while loading) is enough.
  if (config.store.dialect === 'sqlite') return { ok: true };
  try {
    const store = await openConfiguredStore(config, 1);
    await store.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
}


async function checkRedis(config: ResolvedConfig): Promise<{ ok: true } | { ok: false; message: string }> {
  if (!config.redis.url) return { ok: true };
  try {
    const redis = await connectRedis(config.redis.url, { logger: createLogger('silent'), connectTimeoutMs: config.database.connectTimeoutMs });
    redis.disconnect();
    return { ok: true };
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
}
