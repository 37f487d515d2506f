import { CompactSign, compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { KeyPair } from '../audit/index.js';
import { AirlockError } from '../errors.js';

/** What a receipt states about one execution; anyone can check it offline against the JWKS. */
export interface ReceiptClaims {
  readonly typ: 'airlock-receipt/v1';
  readonly iss: string;
  readonly execution_id: string;
  readonly approval_id: string;
  readonly jti: string;
  readonly environment: string;
  readonly target: string;
  readonly op_hash: string;
  readonly status: string;
  readonly exit_code: number | null;
  readonly output_sha256: string;
  readonly truncated: boolean;
  readonly started_at: string;
  readonly finished_at: string;
  readonly duration_ms: number;
  /** Where the execution.finished event stands in the audit chain. */
  readonly audit_seq: number;
  readonly audit_hash: string;
}

export async function signReceipt(key: KeyPair, claims: ReceiptClaims): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.keyId, typ: 'airlock-receipt+jws' })
    .sign(key.privateKey);
}

/** Checks a receipt's signature against a key set (EdDSA only) and returns what it states. */
export async function verifyReceipt(receipt: string, jwks: JSONWebKeySet): Promise<ReceiptClaims> {
  try {
    const { payload, protectedHeader } = await compactVerify(receipt.trim(), createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    if (protectedHeader.typ !== 'airlock-receipt+jws') throw new Error(`not a receipt (typ ${protectedHeader.typ ?? 'missing'})`);
    const claims = JSON.parse(new TextDecoder().decode(payload)) as ReceiptClaims;
    if (claims.typ !== 'airlock-receipt/v1') throw new Error('not an Airlock receipt');
    return claims;
  } catch (error) {
    throw new AirlockError('receipt_invalid', `the receipt does not verify: ${(error as Error).message}`, { status: 400 });
  }
}
