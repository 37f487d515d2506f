import { loadPolicy } from '../approvals/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError, messageOf } from '../errors.js';
import type { Store } from '../store/index.js';
import { builtinTargets, loadTargetsFile, type TargetRegistry } from '../targets/index.js';
import { VERSION } from '../version.js';

export interface FileCheck {
  readonly source: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface ValidationReport {
  readonly ok: boolean;
  readonly targets: FileCheck & { readonly targets: readonly string[]; readonly sha256: string | null; readonly in_force: boolean };
  readonly policy: FileCheck & { readonly rules: number };
}

function problemsOf(error: unknown): string[] {
  if (error instanceof AirlockError) {
    const listed = error.details?.problems;
    if (Array.isArray(listed) && listed.length > 0) return listed.map(String);
  }
  return [messageOf(error)];
}

/**
 * Reads targets.yaml and policy.yaml afresh and says whether they are valid, listing every problem,
 * without changing anything (a reload is POST /v1/admin/reload). `in_force` tells whether the file on
 * disk is the one the registry runs on.
 */
export function validateConfiguration(config: ResolvedConfig, registry: TargetRegistry): ValidationReport {
  const loaded = registry.current();
  let targets: ValidationReport['targets'];
  if (!config.targetsFile) {
    targets = { source: 'built-in', ok: true, problems: [], targets: builtinTargets(config).map((target) => target.id), sha256: null, in_force: loaded.source === 'built-in' };
  } else {
    try {
      const file = loadTargetsFile(config.targetsFile, config);
      targets = { source: config.targetsFile, ok: true, problems: [], targets: file.targets.map((target) => target.id), sha256: file.sha256, in_force: file.sha256 === loaded.sha256 };
    } catch (error) {
      targets = { source: config.targetsFile, ok: false, problems: problemsOf(error), targets: [], sha256: null, in_force: false };
    }
  }
  let policy: ValidationReport['policy'];
  if (!config.policyFile) {
    policy = { source: 'built-in', ok: true, problems: [], rules: 0 };
  } else {
    try {
      policy = { source: config.policyFile, ok: true, problems: [], rules: loadPolicy(config.policyFile).rules.length };
    } catch (error) {
      policy = { source: config.policyFile, ok: false, problems: problemsOf(error), rules: 0 };
    }
  }
  return { ok: targets.ok && policy.ok, targets, policy };
}

export interface AdminStatus {
  readonly version: string;
  readonly instance: string | null;
  readonly store: string;
  readonly environments: readonly string[];
  /** Deliveries of each channel (webhooks, Telegram, …) by status, from the outbox dispatcher's table. */
  readonly deliveries: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * The webhook and Telegram integrations: the GET endpoints this server has for each (none when it
   * was built without them), and what the store holds of them.
   */
  readonly integrations: {
    readonly webhooks: { readonly endpoints: readonly string[]; readonly subscriptions: number };
    readonly telegram: { readonly endpoints: readonly string[]; readonly messages: number };
  };
}

/** What an admin's overview shows besides /health: version, store, delivery channels and integrations. */
export async function adminStatus(deps: { store: Store; config: ResolvedConfig; routes: () => ReadonlyArray<{ readonly method: string; readonly url: string }> }): Promise<AdminStatus> {
  const { store, config } = deps;
  const rows = await store.db.selectFrom('deliveries').select(['channel', 'status', (eb) => eb.fn.countAll().as('count')]).groupBy(['channel', 'status']).execute();
  const deliveries: Record<string, Record<string, number>> = {};
  for (const row of rows) (deliveries[row.channel] ??= {})[row.status] = Number(row.count);
  const subscriptions = await store.db.selectFrom('webhook_subscriptions').select((eb) => eb.fn.countAll().as('count')).where('disabled_at', 'is', null).executeTakeFirst();
  const messages = await store.db.selectFrom('telegram_messages').select((eb) => eb.fn.countAll().as('count')).executeTakeFirst();
  // Plain GET endpoints (no path parameters) whose path names the integration.
  const endpoints = (word: string) =>
    [...new Set(deps.routes().filter((route) => route.method === 'GET' && route.url.startsWith('/v1/') && !/[:*]/.test(route.url) && route.url.includes(word)).map((route) => route.url))].sort();
  return {
    version: VERSION,
    instance: config.instanceId ?? null,
    store: store.dialect,
    environments: config.environments.allowed ?? config.environments.known,
    deliveries,
    integrations: {
      webhooks: { endpoints: endpoints('webhook'), subscriptions: Number(subscriptions?.count ?? 0) },
      telegram: { endpoints: endpoints('telegram'), messages: Number(messages?.count ?? 0) },
    },
  };
}
