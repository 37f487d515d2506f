import { InvalidArgumentError, Option, type Command } from 'commander';
import { WORKSPACE_PROVIDERS } from '../config/choices.js';
import type { WorkspaceView } from '../workspaces/index.js';
import { localActor, withRuntime } from './admin.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { withJson, type JsonShape } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { color, print, printJson, table } from './output.js';

const WORKSPACE_FIELDS = ['id', 'name', 'owner', 'owner_id', 'provider', 'quota_bytes', 'labels', 'status', 'container_id', 'created_by', 'created_at', 'updated_at', 'deleted_at', 'purge_after', 'purged_at', 'mcp_path'];
const WORKSPACE_JSON: JsonShape = { shape: 'object', fields: WORKSPACE_FIELDS };

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "500M", "2G", "1048576": a size in bytes (K, M, G, T are powers of 1024). */
export function sizeOption(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  const bytes = match ? Math.round(Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] as number)) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024) throw new InvalidArgumentError('give a size of at least 1K, such as 500M or 2G');
  return bytes;
}

function labelOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('give a label as name=value');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

function size(bytes: number): string {
  for (const [unit, factor] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) if (bytes >= factor) return `${(bytes / factor).toFixed(bytes % factor === 0 ? 0 : 1)}${unit}`;
  return `${bytes}B`;
}

function stateOf(workspace: WorkspaceView): string {
  return workspace.status === 'deleted' ? `deleted, restorable until ${workspace.purge_after}` : workspace.status;
}

function show(workspace: WorkspaceView & { usage_bytes?: number; provider_state?: Record<string, unknown> }, url: string): void {
  print(`workspace ${workspace.name} (${workspace.id}): ${workspace.status}`);
  print(`  owner     ${workspace.owner}`);
  print(`  provider  ${workspace.provider}${workspace.container_id ? ` (container ${workspace.container_id.slice(0, 12)})` : ''}`);
  print(`  quota     ${size(workspace.quota_bytes)}${workspace.usage_bytes !== undefined ? `, ${size(workspace.usage_bytes)} used` : ''}`);
  if (Object.keys(workspace.labels).length > 0) print(`  labels    ${Object.entries(workspace.labels).map(([name, value]) => `${name}=${value}`).join(', ')}`);
  print(`  created   ${workspace.created_at} by ${workspace.created_by}`);
  if (workspace.deleted_at) print(`  deleted   ${workspace.deleted_at}; purged after ${workspace.purge_after}`);
  if (workspace.purged_at) print(`  purged    ${workspace.purged_at}`);
  if (workspace.status === 'active') print(`  MCP       ${url}${workspace.mcp_path}`);
}

/**
 * `airlock workspaces create|list|show|delete|restore` talk to a running server as the caller (a
 * workspace belongs to whoever creates it); `purge` removes deleted workspaces past their retention
 * from this machine's store and folders, as the local operator.
 */
export function registerWorkspaceCommands(program: Command): void {
  const workspaces = program.command('workspaces').description('your workspaces: folders (or containers) with MCP file and git tools');

  withJson(withClientOptions(workspaces.command('create')), WORKSPACE_JSON)
    .description('create a workspace of your own and print its MCP endpoint')
    .argument('<name>', 'a name of yours: letters, digits, ".", "_" or "-"')
    .addOption(new Option('--provider <provider>', 'directory or container (default: the server\'s)').choices(WORKSPACE_PROVIDERS))
    .option('--quota <size>', 'the most it may hold, e.g. 500M or 2G (default: the server\'s)', sizeOption)
    .option('--label <name=value>', 'a label (repeatable)', labelOption)
    .addHelpText('after', '\nExamples:\n  airlock workspaces create scratch\n  airlock workspaces create api-fix --quota 2G --label ticket=OPS-42 --provider container')
    .action(async (name: string, flags: ClientFlags & { provider?: string; quota?: number; label?: Record<string, string>; json?: boolean }) => {
      const client = new ApiClient(flags);
      const { workspace } = await client.call('POST', '/v1/workspaces', {
        body: { name, ...(flags.provider ? { provider: flags.provider } : {}), ...(flags.quota ? { quota_bytes: flags.quota } : {}), ...(flags.label ? { labels: flags.label } : {}) },
      });
      if (flags.json) printJson(workspace);
      else show(workspace, client.url);
    });

  withJson(withClientOptions(workspaces.command('list')), { ...WORKSPACE_JSON, shape: 'array' })
    .description('list your workspaces (deleted ones too, until they are purged)')
    .option('--all', 'every owner\'s (admins)')
    .addOption(new Option('--status <status>', 'only these').choices(['active', 'deleted', 'purged', 'any']))
    .action(async (flags: ClientFlags & { all?: boolean; status?: string; json?: boolean }) => {
      const query = new URLSearchParams({ ...(flags.all ? { all: 'true' } : {}), ...(flags.status ? { status: flags.status } : {}) }).toString();
      const { workspaces: list } = await new ApiClient(flags).call('GET', `/v1/workspaces${query ? `?${query}` : ''}`);
      if (flags.json) return printJson(list);
      if (list.length === 0) return print('no workspaces');
      const lines = table(list as WorkspaceView[], [
        { header: 'ID', value: (workspace) => workspace.id },
        { header: 'NAME', value: (workspace) => workspace.name },
        { header: 'OWNER', value: (workspace) => workspace.owner },
        { header: 'PROVIDER', value: (workspace) => workspace.provider },
        { header: 'QUOTA', value: (workspace) => size(workspace.quota_bytes), align: 'right' },
        { header: 'STATE', value: stateOf, style: (text, workspace) => (workspace.status === 'active' ? color.green(text) : color.yellow(text)) },
      ]);
      for (const row of lines) print(row);
    });

  withJson(withClientOptions(workspaces.command('show')), { ...WORKSPACE_JSON, optional: ['usage_bytes', 'provider_state'] })
    .description('one workspace: owner, provider, quota and usage, its MCP endpoint')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const client = new ApiClient(flags);
      const { workspace } = await client.call('GET', `/v1/workspaces/${encodeURIComponent(id)}`);
      if (flags.json) printJson(workspace);
      else show(workspace, client.url);
    });

  withJson(withClientOptions(workspaces.command('delete')), WORKSPACE_JSON, 'print the deleted workspace as JSON')
    .description('delete a workspace softly: its tools stop, its files stay restorable until the retention ends')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const { workspace } = await new ApiClient(flags).call('DELETE', `/v1/workspaces/${encodeURIComponent(id)}`);
      if (flags.json) return printJson(workspace);
      print(`deleted workspace ${workspace.name} (${workspace.id}); restorable until ${workspace.purge_after} (airlock workspaces restore ${workspace.id})`);
    });

  withJson(withClientOptions(workspaces.command('restore')), WORKSPACE_JSON, 'print the restored workspace as JSON')
    .description('undo a delete while the retention lasts')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const { workspace } = await new ApiClient(flags).call('POST', `/v1/workspaces/${encodeURIComponent(id)}/restore`);
      if (flags.json) return printJson(workspace);
      print(`restored workspace ${workspace.name} (${workspace.id})`);
    });

  withJson(withConfigOptions(workspaces.command('purge')), { shape: 'object', fields: ['purged'], note: 'purged lists the ids of the workspaces removed' })
    .description('remove deleted workspaces past their retention now (files, container, and the right to restore), on this machine\'s store; with an id, that deleted workspace at once')
    .argument('[id]', 'a deleted workspace to purge now, whatever its retention')
    .action(async (id: string | undefined, flags: ConfigFlags & { json?: boolean }) => {
      const purged = await withRuntime(await configFromFlags(flags), (runtime) => runtime.workspaces.purge(localActor('workspaces'), id ? { id } : {}));
      if (flags.json) return printJson({ purged });
      print(purged.length === 0 ? 'nothing to purge' : `purged ${purged.length} workspace${purged.length === 1 ? '' : 's'}: ${purged.join(', ')}`);
    });
}
