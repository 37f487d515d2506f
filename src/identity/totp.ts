import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/** Authenticator-app defaults (RFC 6238): SHA-1, 6 digits, 30-second steps. */
const PERIOD = 30;
const DIGITS = 6;
/** One step either side is accepted, for clocks that drift. */
const WINDOW = 1;
export const TOTP_CODE = /^\d{6}$/;

function totpOf(secret: string, label = 'airlock', issuer = 'Airlock'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secret) });
}

/** A fresh 160-bit secret, base32 (what authenticator apps expect). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

export function otpauthUri(secret: string, username: string, issuer: string): string {
  return totpOf(secret, username, issuer).toString();
}

/**
 * The time step a code belongs to, if it is valid now (± one step) and later than `lastStep`. Refusing
 * steps at or before the last accepted one is what makes every code usable once (RFC 6238 section 5.2).
 */
export function acceptedStep(secret: string, code: string, lastStep: number | null, now = Date.now()): number | undefined {
  if (!TOTP_CODE.test(code)) return undefined;
  const delta = totpOf(secret).validate({ token: code, timestamp: now, window: WINDOW });
  if (delta === null) return undefined;
  const step = TOTP.counter({ period: PERIOD, timestamp: now }) + delta;
  return lastStep !== null && step <= lastStep ? undefined : step;
}

/** The code for a secret at a time: for tests and for `airlock totp code`-style tooling. */
export function totpCode(secret: string, timestamp = Date.now()): string {
  return totpOf(secret).generate({ timestamp });
}

/** The enrollment QR code as SVG, a PNG data URL and terminal text. */
export async function qrCodes(uri: string): Promise<{ svg: string; png_data_url: string; terminal: string }> {
  const [svg, png, terminal] = await Promise.all([
    QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' }),
    QRCode.toDataURL(uri, { errorCorrectionLevel: 'M' }),
    QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' }),
  ]);
  return { svg, png_data_url: png, terminal };
}
