import { maskUrl } from './database-url.js';
import type { ResolvedConfig } from './load.js';

/** Settings whose values are secrets or carry them; printed masked. */
const MASKED: Record<string, (value: string) => string> = {
  'database.url': maskUrl,
  'auth.secretKey': () => '(set, hidden)',
  'auth.introspectSecret': () => '(set, hidden)',
  'auth.bootstrapPassword': () => '(set, hidden)',
  'redis.url': maskUrl,
  'telegram.botToken': () => '(set, hidden)',
  'telegram.webhookSecret': () => '(set, hidden)',
};

/** Mappings shown as one setting (their keys are data, not setting names). */
const MAPPINGS = new Set(['telegram.chats']);

export interface SettingLine {
  readonly key: string;
  readonly value: unknown;
  readonly source: string;
}

/** The resolved settings as key/value/source lines, secrets masked: what `airlock config validate` prints. */
export function describeSettings(config: ResolvedConfig): SettingLine[] {
  const lines: SettingLine[] = [];
  const walk = (value: unknown, prefix: string): void => {
    if (MAPPINGS.has(prefix)) {
      lines.push({ key: prefix, value, source: mappingSource(config.sources, prefix) });
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(inner, prefix ? `${prefix}.${key}` : key);
      return;
    }
    const mask = MASKED[prefix];
    lines.push({ key: prefix, value: mask && typeof value === 'string' ? mask(value) : value, source: config.sources[prefix] ?? 'default' });
  };
  const { paths: _paths, store: _store, sources: _sources, configFile: _configFile, policyFile: _policyFile, ...settings } = config;
  walk(settings, '');
  return lines;
}

/** A mapping set in a file has a source per entry; from a variable, one for the whole. */
function mappingSource(sources: Readonly<Record<string, string>>, key: string): string {
  const own = sources[key];
  if (own && own !== 'default') return own;
  return Object.entries(sources).find(([name, source]) => name.startsWith(`${key}.`) && source !== 'default')?.[1] ?? 'default';
}

/** The store as one printable line, password masked. */
export function describeStore(config: ResolvedConfig): string {
  return config.store.dialect === 'sqlite' ? `SQLite ${config.store.file}` : `PostgreSQL ${maskUrl(config.store.url)}`;
}
