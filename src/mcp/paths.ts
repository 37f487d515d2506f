export const MCP_PATH = '/mcp';
/** RFC 9728 protected-resource metadata of /mcp. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource/mcp';
/** Sent by `airlock mcp --stdio` on its requests, so that the audit log can say which transport the agent used. */
export const TRANSPORT_HEADER = 'x-airlock-mcp-transport';
