export { AirlockError, isAirlockError } from './errors.js';
export { VERSION } from './version.js';
export * from './config/index.js';
export * from './store/index.js';
export * from './audit/index.js';
export { buildApp, type App } from './http/app.js';
export { startServer, type RunningServer } from './http/server.js';
export { createLogger } from './http/logger.js';
export { openRuntime, openMigratedStore, ensureDataDirs, type Runtime } from './runtime.js';
