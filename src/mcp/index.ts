export { publicUrl, serveMcp, type McpEndpoint } from './endpoint.js';
export { mcpRoutes } from './routes.js';
export { createMcpServer, type McpDeps } from './server.js';
export { READ_ONLY, ok, toolRegistrar, type McpCaller, type ToolAuditContext, type ToolExtra } from './tools.js';
export { MCP_PATH, RESOURCE_METADATA_PATH, TRANSPORT_HEADER } from './paths.js';
