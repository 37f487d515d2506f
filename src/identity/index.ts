export { ApiKeys, actorOf, type ApiKeyInfo, type Principal } from './api-keys.js';
export { SCOPES, ScopeSchema, hasScope, parseScopes, type Scope } from './scopes.js';
export { identityRoutes } from './routes.js';
