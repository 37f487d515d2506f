import { loadForCheck } from '../config-check.js';
import type { ConfigFlags } from '../options.js';
import { auditFinding } from './audit.js';
import { configFinding, policyFinding, targetsFileFinding } from './config.js';
import { skip, type Finding } from './finding.js';
import { keyFindings } from './keys.js';
import { redisFinding } from './redis.js';
import { storeFindings } from './store.js';
import { targetFindings } from './targets.js';
import { telegramFindings } from './telegram.js';

export type { Finding } from './finding.js';

/**
 * Every check of the local setup, in a fixed order. The checks that talk to something (the store,
 * targets, Telegram, Redis) run side by side; without a configuration there is nothing else to check.
 */
export async function runDoctor(flags: ConfigFlags): Promise<Finding[]> {
  const loaded = await loadForCheck(flags);
  const config = configFinding(loaded);
  if (!loaded.ok) return [config];
  const settings = loaded.config;
  const storeAndAudit = (async () => {
    const store = await storeFindings(settings);
    const audit = store.usable ? await auditFinding(settings) : skip('audit', 'the store is not usable (see above)');
    return [...store.findings, audit];
  })();
  const [store, targets, telegram, redis] = await Promise.all([storeAndAudit, targetFindings(settings), telegramFindings(settings), redisFinding(settings)]);
  const [stored, audit] = [store.slice(0, -1), store.slice(-1)];
  return [config, policyFinding(settings), targetsFileFinding(settings), ...stored, ...keyFindings(settings), ...targets, ...telegram, redis, ...audit];
}
