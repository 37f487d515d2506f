import { InvalidArgumentError, Option, type Command } from 'commander';
import type { WorkspaceView } from '../workspaces/index.js';
import { localActor, withRuntime } from './admin.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';

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

function line(workspace: WorkspaceView): string {
  const when = workspace.status === 'deleted' ? `deleted, restorable until ${workspace.purge_after}` : workspace.status;
  return `${workspace.id}  ${workspace.name.padEnd(20)} ${workspace.owner.padEnd(12)} ${workspace.provider.padEnd(9)} ${size(workspace.quota_bytes).padStart(6)}  ${when}`;
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

  withClientOptions(workspaces.command('create'))
    .description('create a workspace of your own and print its MCP endpoint')
    .argument('<name>', 'a name of yours: letters, digits, ".", "_" or "-"')
    .addOption(new Option('--provider <provider>', 'directory or container (default: the server\'s)').choices(['directory', 'container']))
    .option('--quota <size>', 'the most it may hold, e.g. 500M or 2G (default: the server\'s)', sizeOption)
    .option('--label <name=value>', 'a label (repeatable)', labelOption)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  airlock workspaces create scratch\n  airlock workspaces create api-fix --quota 2G --label ticket=OPS-42 --provider container')
    .action(async (name: string, flags: ClientFlags & { provider?: string; quota?: number; label?: Record<string, string>; json?: boolean }) => {
      const client = new ApiClient(flags);
      const { workspace } = await client.call('POST', '/v1/workspaces', {
        body: { name, ...(flags.provider ? { provider: flags.provider } : {}), ...(flags.quota ? { quota_bytes: flags.quota } : {}), ...(flags.label ? { labels: flags.label } : {}) },
      });
      if (flags.json) print(JSON.stringify(workspace, null, 2));
      else show(workspace, client.url);
    });

  withClientOptions(workspaces.command('list'))
    .description('list your workspaces (deleted ones too, until they are purged)')
    .option('--all', 'every owner\'s (admins)')
    .addOption(new Option('--status <status>', 'only these').choices(['active', 'deleted', 'purged', 'any']))
    .option('--json', 'print JSON')
    .action(async (flags: ClientFlags & { all?: boolean; status?: string; json?: boolean }) => {
      const query = new URLSearchParams({ ...(flags.all ? { all: 'true' } : {}), ...(flags.status ? { status: flags.status } : {}) }).toString();
      const { workspaces: list } = await new ApiClient(flags).call('GET', `/v1/workspaces${query ? `?${query}` : ''}`);
      if (flags.json) print(JSON.stringify(list, null, 2));
      else if (list.length === 0) print('no workspaces');
      else for (const workspace of list as WorkspaceView[]) print(line(workspace));
    });

  withClientOptions(workspaces.command('show'))
    .description('one workspace: owner, provider, quota and usage, its MCP endpoint')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const client = new ApiClient(flags);
      const { workspace } = await client.call('GET', `/v1/workspaces/${encodeURIComponent(id)}`);
      if (flags.json) print(JSON.stringify(workspace, null, 2));
      else show(workspace, client.url);
    });

  withClientOptions(workspaces.command('delete'))
    .description('delete a workspace softly: its tools stop, its files stay restorable until the retention ends')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags) => {
      const { workspace } = await new ApiClient(flags).call('DELETE', `/v1/workspaces/${encodeURIComponent(id)}`);
      print(`deleted workspace ${workspace.name} (${workspace.id}); restorable until ${workspace.purge_after} (airlock workspaces restore ${workspace.id})`);
    });

  withClientOptions(workspaces.command('restore'))
    .description('undo a delete while the retention lasts')
    .argument('<id>')
    .action(async (id: string, flags: ClientFlags) => {
      const { workspace } = await new ApiClient(flags).call('POST', `/v1/workspaces/${encodeURIComponent(id)}/restore`);
      print(`restored workspace ${workspace.name} (${workspace.id})`);
    });

  withConfigOptions(workspaces.command('purge'))
    .description('remove deleted workspaces past their retention now (files, container, and the right to restore), on this machine\'s store; with an id, that deleted workspace at once')
    .argument('[id]', 'a deleted workspace to purge now, whatever its retention')
    .action(async (id: string | undefined, flags: ConfigFlags) => {
      const purged = await withRuntime(configFromFlags(flags), (runtime) => runtime.workspaces.purge(localActor('workspaces'), id ? { id } : {}));
      print(purged.length === 0 ? 'nothing to purge' : `purged ${purged.length} workspace${purged.length === 1 ? '' : 's'}: ${purged.join(', ')}`);
    });
}
