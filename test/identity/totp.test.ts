import { describe, expect, it } from 'vitest';
import { acceptedStep, newTotpSecret, totpCode } from '../../src/identity/totp.js';

describe('TOTP codes', () => {
  const secret = newTotpSecret();
  const now = Date.UTC(2026, 10, 23, 12, 0, 15);
  const step = Math.floor(now / 30_000);

  it('accepts the current code and one step of clock skew either way, nothing further', () => {
    expect(acceptedStep(secret, totpCode(secret, now), null, now)).toBe(step);
    expect(acceptedStep(secret, totpCode(secret, now - 30_000), null, now)).toBe(step - 1);
    expect(acceptedStep(secret, totpCode(secret, now + 30_000), null, now)).toBe(step + 1);
    expect(acceptedStep(secret, totpCode(secret, now - 60_000), null, now)).toBeUndefined();
    expect(acceptedStep(secret, totpCode(secret, now + 60_000), null, now)).toBeUndefined();
  });

  it('refuses a step at or before the last accepted one, so a code works once', () => {
    expect(acceptedStep(secret, totpCode(secret, now), step, now)).toBeUndefined();
    expect(acceptedStep(secret, totpCode(secret, now - 30_000), step, now)).toBeUndefined();
    expect(acceptedStep(secret, totpCode(secret, now + 30_000), step, now)).toBe(step + 1);
  });

  it('refuses codes of another secret and anything that is not six digits', () => {
    expect(acceptedStep(secret, totpCode(newTotpSecret(), now), null, now)).toBeUndefined();
    for (const junk of ['', '12345', '1234567', 'abcdef', ' 123456']) expect(acceptedStep(secret, junk, null, now)).toBeUndefined();
  });
});
