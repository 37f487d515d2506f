import { maskUrl, type ResolvedConfig } from '../../config/index.js';
import { checkRedis } from '../config-check.js';
import { fail, ok, skip, type Finding } from './finding.js';

/** The shared rate-limit store answers PING, when one is configured. */
export async function redisFinding(config: ResolvedConfig): Promise<Finding> {
  if (!config.redis.url) return skip('redis', 'not configured: rate limits are counted per process');
  const result = await checkRedis(config);
  if (result.ok) return ok('redis', `${maskUrl(config.redis.url)} answers PING`);
  return fail('redis', result.message, 'check redis.url (AIRLOCK_REDIS_URL), that Redis runs and accepts this machine (and its password)');
}
