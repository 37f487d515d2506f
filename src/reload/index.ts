export { ConfigReloader, reloadView, type FileProblems, type ReloadOutcome, type ReloadTrigger } from './service.js';
export { reloadRoutes } from './routes.js';
