import { InvalidArgumentError, Option, type Command } from 'commander';
import { LOG_LEVELS, ROLES } from '../config/choices.js';
import type { RawConfig, ResolvedConfig } from '../config/index.js';

export interface ConfigFlags {
  config?: string;
  dataDir?: string;
  instanceId?: string;
  databaseUrl?: string;
  keysDir?: string;
  logLevel?: string;
}

/**
 * The flags of `serve` and `config validate` only. Kept apart from ConfigFlags so that another
 * command's own option of the same name (`users add --role`) is never read as a server setting.
 */
export interface ServerFlags {
  host?: string;
  port?: string;
  allowedEnvironments?: string;
  role?: string;
  segment?: string;
}

/** The flags every command that reads the configuration accepts. */
export function withConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file (default: $AIRLOCK_CONFIG, then ./airlock.yaml if present)')
    .option('--data-dir <dir>', 'data directory (default ./.airlock)')
    .option('--instance-id <name>', 'keep every data, key, state and log path of this instance apart')
    .option('--keys-dir <dir>', 'the key files shared by every instance of a deployment (default: <data dir>/keys)')
    .option('--database-url <url>', 'postgres://user:pass@host/db or sqlite:PATH (default: SQLite in the data directory)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS));
}

/** Adds the listening flags of `serve`. */
export function withServerOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('-p, --port <port>', 'port to listen on (default 5002; 0 picks a free one)')
    .option('--allowed-environments <list>', 'comma-separated environments this instance serves')
    .addOption(new Option('--role <role>', 'all: everything in one process; api: no executors; gateway: verify and execute only').choices(ROLES))
    .option('--segment <name>', 'gateway role: serve only the targets of this network segment');
}

/**
 * Flags > environment > file > defaults; throws one error listing every problem. The loader (zod, yaml)
 * is imported only here, when a command reads the configuration, so that the others start quickly.
 */
export async function configFromFlags(flags: ConfigFlags, server: ServerFlags = {}): Promise<ResolvedConfig> {
  const { requireConfig } = await import('../config/index.js');
  const raw: RawConfig = {};
  if (flags.instanceId !== undefined) raw.instanceId = flags.instanceId;
  if (flags.dataDir !== undefined) raw.dataDir = flags.dataDir;
  if (flags.keysDir !== undefined) raw.keys = { dir: flags.keysDir };
  if (server.role !== undefined) raw.role = server.role;
  if (server.segment !== undefined) raw.gateway = { segment: server.segment };
  if (server.host !== undefined || server.port !== undefined) {
    raw.server = { ...(server.host !== undefined ? { host: server.host } : {}), ...(server.port !== undefined ? { port: server.port } : {}) };
  }
  if (flags.databaseUrl !== undefined) raw.database = { url: flags.databaseUrl };
  if (server.allowedEnvironments !== undefined) raw.environments = { allowed: server.allowedEnvironments.split(',').map((name) => name.trim()).filter((name) => name !== '') };
  if (flags.logLevel !== undefined) raw.log = { level: flags.logLevel };
  return requireConfig({ flags: raw, ...(flags.config !== undefined ? { configFile: flags.config } : {}) });
}

/** Parses a whole number option, refusing anything else with a clear message. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    }
    return parsed;
  };
}
