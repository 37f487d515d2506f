import { InvalidArgumentError, Option, type Command } from 'commander';
import { LOG_LEVELS, requireConfig, type RawConfig, type ResolvedConfig } from '../config/index.js';

export interface ConfigFlags {
  config?: string;
  dataDir?: string;
  instanceId?: string;
  databaseUrl?: string;
  logLevel?: string;
  host?: string;
  port?: string;
  allowedEnvironments?: string;
}

/** The flags every command that reads the configuration accepts. */
export function withConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file (default: $AIRLOCK_CONFIG, then ./airlock.yaml if present)')
    .option('--data-dir <dir>', 'data directory (default ./.airlock)')
    .option('--instance-id <name>', 'keep every data, key, state and log path of this instance apart')
    .option('--database-url <url>', 'postgres://user:pass@host/db or sqlite:PATH (default: SQLite in the data directory)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS));
}

/** Adds the listening flags of `serve`. */
export function withServerOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('-p, --port <port>', 'port to listen on (default 5002; 0 picks a free one)')
    .option('--allowed-environments <list>', 'comma-separated environments this instance serves');
}

/** Flags > environment > file > defaults; throws one error listing every problem. */
export function configFromFlags(flags: ConfigFlags): ResolvedConfig {
  const raw: RawConfig = {};
  if (flags.instanceId !== undefined) raw.instanceId = flags.instanceId;
  if (flags.dataDir !== undefined) raw.dataDir = flags.dataDir;
  if (flags.host !== undefined || flags.port !== undefined) {
    raw.server = { ...(flags.host !== undefined ? { host: flags.host } : {}), ...(flags.port !== undefined ? { port: flags.port } : {}) };
  }
  if (flags.databaseUrl !== undefined) raw.database = { url: flags.databaseUrl };
  if (flags.allowedEnvironments !== undefined) raw.environments = { allowed: flags.allowedEnvironments.split(',').map((name) => name.trim()).filter((name) => name !== '') };
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
