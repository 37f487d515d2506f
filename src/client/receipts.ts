import { AirlockReceiptError } from './errors.js';
import type { JsonWebKeySet, ReceiptClaims } from './types.js';

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AirlockReceiptError('the receipt is not a compact JWS (bad base64url)');
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function jsonOf(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(new TextDecoder().decode(base64urlBytes(part))) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof AirlockReceiptError) throw error;
  }
  throw new AirlockReceiptError(`the receipt's ${what} is not a JSON object`);
}

/** Hex SHA-256 of text as UTF-8: how a receipt states the output it covers. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export interface VerifyReceiptOptions {
  /** The execution's output as returned: its SHA-256 must be the one the receipt states. */
  readonly output?: string;
  /** The execution the receipt must be about. */
  readonly executionId?: string;
}

/**
 * Checks an execution receipt (a compact JWS, EdDSA over Ed25519) against a key set, with the
 * runtime's WebCrypto only, and returns what it states. Throws AirlockReceiptError when it does not
 * verify or does not state what `expected` says.
 */
export async function verifyReceipt(receipt: string, jwks: JsonWebKeySet, expected: VerifyReceiptOptions = {}): Promise<ReceiptClaims> {
  const parts = receipt.trim().split('.');
  if (parts.length !== 3) throw new AirlockReceiptError('the receipt is not a compact JWS (three parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = jsonOf(headerPart, 'header');
  if (header.alg !== 'EdDSA') throw new AirlockReceiptError(`the receipt is signed with ${String(header.alg)}, not EdDSA`);
  if (header.typ !== 'airlock-receipt+jws') throw new AirlockReceiptError(`not a receipt (typ ${String(header.typ ?? 'missing')})`);
  const candidates = jwks.keys.filter((key) => key.kty === 'OKP' && key.crv === 'Ed25519' && typeof key.x === 'string' && (header.kid === undefined || key.kid === header.kid));
  if (candidates.length === 0) throw new AirlockReceiptError(`no published Ed25519 key${header.kid ? ` with kid ${String(header.kid)}` : ''} to check the receipt against`);
  const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
  const signature = base64urlBytes(signaturePart);
  let valid = false;
  for (const jwk of candidates) {
    // Only the key material: some runtimes refuse a JWK whose alg/use/key_ops they read differently.
    const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string }, { name: 'Ed25519' }, false, ['verify']).catch((error: unknown) => {
      throw new AirlockReceiptError('this runtime cannot verify Ed25519 signatures with WebCrypto', error);
    });
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, signed)) {
      valid = true;
      break;
    }
  }
  if (!valid) throw new AirlockReceiptError('the receipt signature does not verify against the published keys');
  const claims = jsonOf(payloadPart, 'payload') as unknown as ReceiptClaims;
  if (claims.typ !== 'airlock-receipt/v1') throw new AirlockReceiptError('not an Airlock receipt');
  if (expected.executionId !== undefined && claims.execution_id !== expected.executionId) {
    throw new AirlockReceiptError(`the receipt is about execution ${claims.execution_id}, not ${expected.executionId}`);
  }
  if (expected.output !== undefined && (await sha256Hex(expected.output)) !== claims.output_sha256) {
    throw new AirlockReceiptError('the output does not match the SHA-256 the receipt states');
  }
  return claims;
}
