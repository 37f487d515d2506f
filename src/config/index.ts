export { ConfigSchema, DEFAULT_ENVIRONMENTS, LOG_LEVELS, ROLES, type Config, type RawConfig, type Role } from './schema.js';
export { loadConfig, requireConfig, ENV_BINDINGS, type LoadOptions, type LoadResult, type ResolvedConfig } from './load.js';
export { describeSettings, describeStore, type SettingLine } from './describe.js';
export { maskUrl, parseDatabaseUrl, type DatabaseTarget } from './database-url.js';
export { publicKeyFileOf, type Paths } from './paths.js';
