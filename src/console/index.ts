export { consoleApiRoutes } from './routes.js';
export { CONSOLE_PATH, consoleStaticRoutes, defaultConsoleDir, loadConsoleAssets, type ConsoleAssets } from './static.js';
export { requestHistory, type ExecutionRecord, type RequestHistory } from './history.js';
export { requestStats, StatsQuery, type HourStats, type RequestStats } from './stats.js';
export { adminStatus, validateConfiguration, type AdminStatus, type ValidationReport } from './admin.js';
