export { Confinement, parsePath, isGitName, MAX_NAME_BYTES, MAX_PATH_BYTES } from './confine.js';
export { WorkspaceFiles, usageOf } from './files.js';
export { WorkspaceGit, SAFE_GIT_OPTIONS, gitEnvironment, runGit } from './git.js';
export { ContainerProvider, DirectoryProvider, type WorkspacePlace, type WorkspaceProvider, type WorkspaceProviderKind, type ProviderHealth } from './providers.js';
export { Workspaces, WORKSPACE_NAME, type WorkspaceSettings, type WorkspaceView, type OpenWorkspace, type CreateWorkspaceInput } from './service.js';
export { WorkspaceExecutor } from './executor.js';
export { workspaceRoutes } from './routes.js';
export { createWorkspaceMcpServer } from './mcp.js';
