import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { AuditLog } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { AirlockError, messageOf } from '../errors.js';
import { actorOf, hasScope, type Principal } from '../identity/index.js';
import { isUniqueViolation, type Store } from '../store/index.js';
import type { WorkspacesTable } from '../store/tables.js';
import { Confinement } from './confine.js';
import { WorkspaceFiles, usageOf } from './files.js';
import { WorkspaceGit, prepareHome } from './git.js';
import { ContainerProvider, DirectoryProvider, type ProviderHealth, type WorkspacePlace, type WorkspaceProvider, type WorkspaceProviderKind } from './providers.js';

export type WorkspaceSettings = Config['workspaces'] & {
  /** The resolved folder holding every workspace (`paths.workspacesDir`). */
  readonly dir: string;
};

export type WorkspaceStatus = 'active' | 'deleted' | 'purging' | 'purged';

/** A workspace as its owner (and admins) see it. */
export interface WorkspaceView {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly owner_id: string;
  readonly provider: WorkspaceProviderKind;
  readonly quota_bytes: number;
  readonly labels: Record<string, string>;
  readonly status: WorkspaceStatus;
  readonly container_id: string | null;
  readonly created_by: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly deleted_at: string | null;
  /** When a deleted workspace stops being restorable and the purge removes it. */
  readonly purge_after: string | null;
  readonly purged_at: string | null;
  /** The workspace's own MCP endpoint (Streamable HTTP). */
  readonly mcp_path: string;
}

export interface CreateWorkspaceInput {
  readonly name: string;
  readonly provider?: WorkspaceProviderKind | undefined;
  readonly quota_bytes?: number | undefined;
  readonly labels?: Record<string, string> | undefined;
}

/** An active workspace opened for its tools. */
export interface OpenWorkspace {
  readonly view: WorkspaceView;
  readonly place: WorkspacePlace;
  readonly files: WorkspaceFiles;
  readonly git: WorkspaceGit;
}

export const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A 'purging' row older than this was left by a process that stopped mid-purge: taken up again. */
const STALE_PURGE_MS = 10 * 60_000;

function view(row: WorkspacesTable): WorkspaceView {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner_name,
    owner_id: row.owner_id,
    provider: row.provider as WorkspaceProviderKind,
    quota_bytes: Number(row.quota_bytes),
    labels: JSON.parse(row.labels) as Record<string, string>,
    status: row.status as WorkspaceStatus,
    container_id: row.container_id,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    deleted_at: row.deleted_at,
    purge_after: row.purge_after,
    purged_at: row.purged_at,
    mcp_path: `/v1/workspaces/${row.id}/mcp`,
  };
}

function notFound(id: string): AirlockError {
  return new AirlockError('workspace_not_found', `no workspace ${id}`, { status: 404 });
}

/**
 * Workspaces: created for their owner (the user behind the key or login), seen and used only by them
 * and admins; deleted softly (restorable until `retentionSeconds` have passed), then purged by a loop
 * that removes their files and container. Every step is an audit event written with the change.
 * `now` is the clock of every retention decision (tests bring their own).
 */
export class Workspaces {
  private readonly providers: Partial<Record<WorkspaceProviderKind, WorkspaceProvider>>;
  private readonly now: () => Date;
  private purgeTimer: NodeJS.Timeout | undefined;
  private purging: Promise<unknown> | undefined;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly settings: WorkspaceSettings;
      readonly providers?: Partial<Record<WorkspaceProviderKind, WorkspaceProvider>>;
      readonly now?: () => Date;
      readonly onError?: (message: string) => void;
    },
  ) {
    const { settings } = deps;
    const container = settings.container.socketPath !== undefined || settings.container.url !== undefined ? new ContainerProvider(settings.container) : undefined;
    this.providers = deps.providers ?? { directory: new DirectoryProvider(settings.dir), ...(container ? { container } : {}) };
    this.now = deps.now ?? (() => new Date());
  }

  get settings(): WorkspaceSettings {
    return this.deps.settings;
  }

  private provider(kind: string): WorkspaceProvider {
    const provider = this.providers[kind as WorkspaceProviderKind];
    if (!provider) {
      throw new AirlockError('provider_unavailable', `the ${kind} provider is not configured here${kind === 'container' ? ' (set workspaces.container.socketPath or url)' : ''}`, { status: 503 });
    }
    return provider;
  }

  placeOf(row: Pick<WorkspacesTable, 'id' | 'name' | 'owner_name' | 'container_id'>): WorkspacePlace {
    const dir = join(this.deps.settings.dir, row.id);
    return { id: row.id, name: row.name, owner: row.owner_name, dir, files: join(dir, 'files'), home: join(dir, 'home'), containerId: row.container_id };
  }

  private isAdmin(principal: Principal): boolean {
    return hasScope(principal.scopes, 'admin');
  }

  /** The row, if the principal may see it (its owner, or an admin); 404 alike for others and for nothing. */
  private async visible(principal: Principal, id: string): Promise<WorkspacesTable> {
    const row = await this.deps.store.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.status === 'purged' || (row.owner_id !== principal.userId && !this.isAdmin(principal))) throw notFound(id);
    return row;
  }

  async create(principal: Principal, input: CreateWorkspaceInput): Promise<WorkspaceView> {
    const { settings } = this.deps;
    if (!WORKSPACE_NAME.test(input.name)) throw new AirlockError('invalid_name', 'a workspace name is 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit', { status: 400 });
    const kind = input.provider ?? settings.provider;
    const provider = this.provider(kind);
    const quota = input.quota_bytes ?? settings.defaultQuotaBytes;
    if (quota > settings.maxQuotaBytes && !this.isAdmin(principal)) {
      throw new AirlockError('quota_too_large', `a quota of ${quota} bytes is over the largest allowed (${settings.maxQuotaBytes}); only an admin may give more`, { status: 400 });
    }
    const taken = await this.deps.store.db.selectFrom('workspaces').select('id').where('owner_id', '=', principal.userId).where('name', '=', input.name).where('status', '<>', 'purged').executeTakeFirst();
    if (taken) throw new AirlockError('workspace_exists', `you already have a workspace named ${input.name} (${taken.id})`, { status: 409 });

    const actor = actorOf(principal);
    const now = this.now().toISOString();
    const row: WorkspacesTable = {
      id: uuidv7(),
      owner_id: principal.userId,
      owner_name: principal.username,
      name: input.name,
      provider: kind,
      quota_bytes: quota,
      labels: JSON.stringify(input.labels ?? {}),
      status: 'active',
      container_id: null,
      created_by: actor,
      created_at: now,
      updated_at: now,
      deleted_at: null,
      purge_after: null,
      purged_at: null,
    };
    const place = this.placeOf(row);
    try {
      await mkdir(settings.dir, { recursive: true, mode: 0o700 });
      await mkdir(place.dir, { mode: 0o700 });
      await mkdir(place.files, { mode: 0o755 });
      await prepareHome(place.home);
      row.container_id = (await provider.create(place)).containerId;
    } catch (error) {
      await rm(place.dir, { recursive: true, force: true }).catch(() => undefined);
      await this.deps.audit
        .record({ actor, action: 'workspace.create_failed', subject: { type: 'workspace', id: row.id }, data: { name: row.name, provider: kind, error: messageOf(error) } })
        .catch(() => undefined);
      throw error;
    }
    try {
      await this.deps.store.transaction(async (tx) => {
        await tx.db.insertInto('workspaces').values(row).execute();
        await this.deps.audit.append(tx, {
          actor,
          action: 'workspace.created',
          subject: { type: 'workspace', id: row.id },
          data: { name: row.name, owner: row.owner_name, provider: kind, quota_bytes: quota, labels: input.labels ?? {}, container_id: row.container_id },
        });
      });
    } catch (error) {
      await this.undo(provider, { ...place, containerId: row.container_id });
      if (isUniqueViolation(error)) throw new AirlockError('workspace_exists', `you already have a workspace named ${input.name}`, { status: 409 });
      throw error;
    }
    return view(row);
  }

  private async undo(provider: WorkspaceProvider, place: WorkspacePlace): Promise<void> {
    await provider.destroy(place).catch(() => undefined);
    await rm(place.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** The principal's workspaces (every owner's with `all`, for admins), newest first; purged ones only when asked. */
  async list(principal: Principal, options: { all?: boolean; status?: WorkspaceStatus | 'any' } = {}): Promise<WorkspaceView[]> {
    if (options.all && !this.isAdmin(principal)) throw new AirlockError('forbidden', 'only admins list every owner\'s workspaces', { status: 403 });
    let query = this.deps.store.db.selectFrom('workspaces').selectAll();
    if (!options.all) query = query.where('owner_id', '=', principal.userId);
    if (options.status === undefined) query = query.where('status', '<>', 'purged');
    else if (options.status !== 'any') query = query.where('status', '=', options.status);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1000).execute();
    return rows.map(view);
  }

  /** One workspace with its usage and what its provider says of it. */
  async get(principal: Principal, id: string): Promise<WorkspaceView & { usage_bytes: number; provider_state: Record<string, unknown> }> {
    const row = await this.visible(principal, id);
    const place = this.placeOf(row);
    const providerState = await (this.providers[row.provider as WorkspaceProviderKind]?.describe(place) ?? Promise.resolve({})).catch((error: unknown) => ({ error: messageOf(error) }));
    return { ...view(row), usage_bytes: await usageOf(place.files), provider_state: providerState };
  }

  /** Soft delete: the workspace stops being usable, its container stops, its files stay until the purge. */
  async delete(principal: Principal, id: string): Promise<WorkspaceView> {
    const row = await this.visible(principal, id);
    if (row.status !== 'active') throw new AirlockError('workspace_deleted', `workspace ${id} is already deleted (restorable until ${row.purge_after})`, { status: 409 });
    const now = this.now();
    const purgeAfter = new Date(now.getTime() + this.deps.settings.retentionSeconds * 1000).toISOString();
    const changed = await this.deps.store.transaction(async (tx) => {
      const result = await tx.db
        .updateTable('workspaces')
        .set({ status: 'deleted', deleted_at: now.toISOString(), purge_after: purgeAfter, updated_at: now.toISOString() })
        .where('id', '=', id)
        .where('status', '=', 'active')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await this.deps.audit.append(tx, { actor: actorOf(principal), action: 'workspace.deleted', subject: { type: 'workspace', id }, data: { name: row.name, owner: row.owner_name, purge_after: purgeAfter } });
      return true;
    });
    if (!changed) throw new AirlockError('workspace_deleted', `workspace ${id} is already deleted`, { status: 409 });
    await Promise.resolve(this.providers[row.provider as WorkspaceProviderKind]?.suspend(this.placeOf(row))).catch((error: unknown) =>
      this.deps.onError?.(`workspace ${id}: could not stop its container: ${messageOf(error)}`),
    );
    return view(await this.row(id));
  }

  /** Undoes a soft delete while the retention lasts. */
  async restore(principal: Principal, id: string): Promise<WorkspaceView> {
    const row = await this.visible(principal, id);
    if (row.status === 'active') throw new AirlockError('workspace_active', `workspace ${id} is not deleted`, { status: 409 });
    const now = this.now().toISOString();
    if (row.status !== 'deleted' || (row.purge_after !== null && row.purge_after <= now)) {
      throw new AirlockError('workspace_expired', `workspace ${id} is past its retention (${row.purge_after}) and is being purged: it cannot be restored`, { status: 410 });
    }
    const provider = this.provider(row.provider);
    const place = this.placeOf(row);
    const { containerId } = await provider.resume(place);
    const changed = await this.deps.store.transaction(async (tx) => {
      const result = await tx.db
        .updateTable('workspaces')
        .set({ status: 'active', deleted_at: null, purge_after: null, container_id: containerId, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'deleted')
        .where('purge_after', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await this.deps.audit.append(tx, { actor: actorOf(principal), action: 'workspace.restored', subject: { type: 'workspace', id }, data: { name: row.name, owner: row.owner_name, container_id: containerId } });
      return true;
    });
    if (!changed) {
      await provider.suspend({ ...place, containerId }).catch(() => undefined);
      throw new AirlockError('workspace_expired', `workspace ${id} was purged meanwhile`, { status: 410 });
    }
    return view(await this.row(id));
  }

  private async row(id: string): Promise<WorkspacesTable> {
    const row = await this.deps.store.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(id);
    return row;
  }

  /**
   * Removes deleted workspaces past their retention (or the one named, at once, with `id`): each is
   * claimed by a conditional update (so concurrent purges never both take it), its container and files
   * are removed, and it is marked purged with a `workspace.purged` event; a failure puts it back and is
   * audited as `workspace.purge_failed`.
   */
  async purge(actor: string, options: { id?: string } = {}): Promise<string[]> {
    const now = this.now();
    const nowIso = now.toISOString();
    const stale = new Date(now.getTime() - STALE_PURGE_MS).toISOString();
    let query = this.deps.store.db.selectFrom('workspaces').selectAll();
    if (options.id !== undefined) {
      query = query.where('id', '=', options.id).where('status', 'in', ['deleted', 'purging']);
    } else {
      query = query.where((eb) => eb.or([eb.and([eb('status', '=', 'deleted'), eb('purge_after', '<=', nowIso)]), eb.and([eb('status', '=', 'purging'), eb('updated_at', '<=', stale)])]));
    }
    const due = await query.orderBy('purge_after').limit(100).execute();
    if (options.id !== undefined && due.length === 0) {
      const row = await this.deps.store.db.selectFrom('workspaces').select('status').where('id', '=', options.id).executeTakeFirst();
      if (!row) throw notFound(options.id);
      throw new AirlockError('workspace_active', `workspace ${options.id} is ${row.status}: only a deleted workspace is purged`, { status: 409 });
    }
    const purged: string[] = [];
    for (const row of due) {
      const claimed = await this.deps.store.db
        .updateTable('workspaces')
        .set({ status: 'purging', updated_at: nowIso })
        .where('id', '=', row.id)
        .where('status', '=', row.status)
        .where('updated_at', '=', row.updated_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      const place = this.placeOf(row);
      try {
        await this.providers[row.provider as WorkspaceProviderKind]?.destroy(place);
        await rm(place.dir, { recursive: true, force: true });
      } catch (error) {
        await this.deps.store.transaction(async (tx) => {
          await tx.db.updateTable('workspaces').set({ status: 'deleted', updated_at: this.now().toISOString() }).where('id', '=', row.id).where('status', '=', 'purging').execute();
          await this.deps.audit.append(tx, { actor, action: 'workspace.purge_failed', subject: { type: 'workspace', id: row.id }, data: { name: row.name, owner: row.owner_name, error: messageOf(error) } });
        });
        this.deps.onError?.(`workspace ${row.id} could not be purged: ${messageOf(error)}`);
        continue;
      }
      await this.deps.store.transaction(async (tx) => {
        await tx.db.updateTable('workspaces').set({ status: 'purged', purged_at: nowIso, updated_at: nowIso }).where('id', '=', row.id).where('status', '=', 'purging').execute();
        await this.deps.audit.append(tx, {
          actor,
          action: 'workspace.purged',
          subject: { type: 'workspace', id: row.id },
          data: { name: row.name, owner: row.owner_name, provider: row.provider, deleted_at: row.deleted_at, purge_after: row.purge_after, container_id: row.container_id },
        });
      });
      purged.push(row.id);
    }
    return purged;
  }

  /** Purges every `purgeIntervalSeconds` until `stop()`. */
  startPurgeLoop(actor: string): void {
    if (this.purgeTimer) return;
    this.purgeTimer = setInterval(() => {
      if (this.purging) return;
      this.purging = this.purge(actor)
        .catch((error: unknown) => this.deps.onError?.(`workspace purge failed: ${messageOf(error)}`))
        .finally(() => {
          this.purging = undefined;
        });
    }, this.deps.settings.purgeIntervalSeconds * 1000);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.purgeTimer);
    this.purgeTimer = undefined;
    await this.purging;
  }

  /** An active workspace the principal may use, with its confined file and git tools. */
  async open(principal: Principal, id: string): Promise<OpenWorkspace> {
    const row = await this.visible(principal, id);
    if (row.status !== 'active') throw new AirlockError('workspace_deleted', `workspace ${id} is deleted (restore it first, until ${row.purge_after})`, { status: 409 });
    return this.tools(row);
  }

  private async tools(row: WorkspacesTable): Promise<OpenWorkspace> {
    const place = this.placeOf(row);
    let confinement: Confinement;
    try {
      confinement = await Confinement.of(place.files);
    } catch (error) {
      throw new AirlockError('workspace_unavailable', `the files of workspace ${row.id} are missing: ${messageOf(error)}`, { status: 503, cause: error });
    }
    const files = new WorkspaceFiles(confinement, { quotaBytes: Number(row.quota_bytes), maxReadBytes: this.deps.settings.maxReadBytes });
    return { view: view(row), place, files, git: new WorkspaceGit(files, place.home) };
  }

  /** The active workspace a target names, for running an approved command in it (no principal: the token was the check). */
  async forExecution(id: string): Promise<{ open: OpenWorkspace; provider: WorkspaceProvider }> {
    const row = await this.deps.store.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.status !== 'active') throw new AirlockError('workspace_unavailable', `workspace ${id} ${row ? `is ${row.status}` : 'does not exist'}`, { status: 409 });
    return { open: await this.tools(row), provider: this.provider(row.provider) };
  }

  /** Refuses a principal that is not the owner (or an admin) of an active workspace; used by the workspace targets' requests. */
  async assertMayUse(principal: Principal, id: string): Promise<WorkspaceView> {
    if (!hasScope(principal.scopes, 'workspaces:use')) throw new AirlockError('forbidden', 'this principal lacks the scope workspaces:use', { status: 403 });
    const row = await this.deps.store.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.status !== 'active') throw new AirlockError('workspace_unavailable', `workspace ${id} ${row ? `is ${row.status}` : 'does not exist'}`, { status: 409 });
    if (row.owner_id !== principal.userId && !this.isAdmin(principal)) throw new AirlockError('workspace_forbidden', `workspace ${id} belongs to another user`, { status: 403 });
    return view(row);
  }

  /** The status of each configured provider; the default provider's is the workspaces' status. */
  async health(): Promise<{ status: 'healthy' | 'unhealthy'; default_provider: string; providers: Record<string, ProviderHealth> }> {
    const providers: Record<string, ProviderHealth> = {};
    for (const [kind, provider] of Object.entries(this.providers)) providers[kind] = await provider.health();
    const own = providers[this.deps.settings.provider];
    return { status: own?.status ?? 'unhealthy', default_provider: this.deps.settings.provider, providers };
  }
}
