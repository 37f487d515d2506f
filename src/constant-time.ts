import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether two secrets are equal, in constant time: their sha256 digests are compared, so neither the
 * contents nor the lengths leak through timing.
 */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
