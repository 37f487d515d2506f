import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** Another instance configured beside this one: what two instances on one machine must not share. */
export interface SiblingInstance {
  readonly file: string;
  readonly instance: string;
  /** The bot of its Telegram token (the digits before ":"), from the file or its `.env` file. */
  readonly botId: string | undefined;
  readonly port: number | undefined;
}

/** A bot token's bot: two tokens of one bot (one revoked, one new) still name the same bot. */
export function botIdOf(token: string | undefined): string | undefined {
  return token === undefined ? undefined : /^(\d+):/.exec(token.trim())?.[1];
}

/** KEY=VALUE lines of a systemd environment file (comments, blank lines and quotes as systemd reads them). */
function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const values: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    values[match[1] as string] = (match[2] as string).replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The instance configurations beside `configFile`, laid out as the systemd units read them:
 * `<dir>/<instance>.yaml` and its secrets in `<dir>/<instance>.env`. Files that are not Airlock
 * configurations (targets.yaml, policy.yaml) name no bot and no port, and do not count.
 */
export function siblingInstances(configFile: string): SiblingInstance[] {
  const own = resolve(configFile);
  const dir = dirname(own);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: SiblingInstance[] = [];
  for (const name of names.filter((candidate) => ['.yaml', '.yml'].includes(extname(candidate))).sort()) {
    const file = join(dir, name);
    if (file === own) continue;
    let document: unknown;
    try {
      document = parse(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (!isMapping(document)) continue;
    const env = readEnvFile(join(dir, `${basename(name, extname(name))}.env`));
    const telegram = isMapping(document.telegram) ? document.telegram : {};
    const server = isMapping(document.server) ? document.server : {};
    // As the loader does: a variable wins over the file.
    const token = env.AIRLOCK_TELEGRAM_BOT_TOKEN ?? env.TELEGRAM_BOT_TOKEN ?? (typeof telegram.botToken === 'string' ? telegram.botToken : undefined);
    const port = Number(env.AIRLOCK_PORT ?? server.port);
    const botId = botIdOf(token);
    if (botId === undefined && !(port > 0)) continue;
    found.push({ file, instance: typeof document.instanceId === 'string' ? document.instanceId : basename(name, extname(name)), botId, port: port > 0 ? port : undefined });
  }
  return found;
}

/** What this instance shares with another one beside it: its bot (Telegram answers 409 Conflict), its port. */
export function instanceClashes(own: { botToken: string | undefined; port: number }, siblings: readonly SiblingInstance[]): string[] {
  const botId = botIdOf(own.botToken);
  const clashes: string[] = [];
  for (const sibling of siblings) {
    if (botId !== undefined && sibling.botId === botId) {
      clashes.push(`telegram.botToken: bot ${botId} is also configured for instance ${sibling.instance} (${sibling.file}): two instances polling one bot make Telegram answer 409 Conflict; give each instance its own bot`);
    }
    if (own.port > 0 && sibling.port === own.port) clashes.push(`server.port: ${own.port} is also the port of instance ${sibling.instance} (${sibling.file})`);
  }
  return clashes;
}
