import { exportJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import { v4 as uuidv4 } from 'uuid';
import type { z } from 'zod';
import { opHash, readOperation, type Approvals } from '../approvals/index.js';
import type { TypedOpSchema } from '../operations/schema.js';
import type { AuditLog } from '../audit/index.js';
import type { PublicKey, SigningKeyRing } from './keyring.js';
import { localKeySet, TokenVerifier, type CapabilityClaims, type CapabilityVerifier } from './verifier.js';
import { AirlockError } from '../errors.js';
import { actorOf, hasScope, mayUse, type Principal } from '../identity/index.js';
import { Statement, type Store } from '../store/index.js';

export interface MintInput {
  readonly approval_id: string;
  /** The command approved, or the typed operation approved. */
  readonly command?: string | undefined;
  readonly op?: z.output<typeof TypedOpSchema> | undefined;
  readonly environment: string;
}

export interface MintResult {
  readonly token: string;
  readonly token_type: 'capability';
  readonly expires_at: string;
  readonly jti: string;
  readonly approval_id: string;
  readonly environment: string;
  readonly target: string;
  readonly op_hash: string;
}

export interface TokenSettings {
  readonly ttlSeconds: number;
  readonly issuer: string;
  readonly audience: string;
}

const RECORD_MINT = new Statement('update approvals set token_jti = ?, minted_at = ? where id = ?');

/**
 * Capability tokens: EdDSA JWTs, minted once per approved request for exactly its operation, target
 * and environment, verified against published public keys only (no shared secret), algorithm pinned.
 */
export class Tokens implements CapabilityVerifier {
  private readonly verifier: TokenVerifier;
  /** JWKs by kid: a key's export never changes, and the set is asked for on every JWKS request. */
  private readonly exported = new Map<string, Promise<JWK>>();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly approvals: Approvals;
      readonly ring: SigningKeyRing;
      /** Further keys to publish (the receipt key), which verify receipts, never tokens. */
      readonly otherPublicKeys: () => readonly PublicKey[];
      readonly settings: TokenSettings;
    },
  ) {
    this.verifier = new TokenVerifier(localKeySet(() => deps.ring.published()), deps.settings);
  }

  /** The public keys, as /.well-known/jwks.json publishes them: token keys (current and retired) and receipt keys. */
  async jwks(): Promise<JSONWebKeySet> {
    const keys = [...this.deps.ring.published(), ...this.deps.otherPublicKeys()];
    return { keys: await Promise.all(keys.map((key) => this.jwkOf(key))) };
  }

  /** Checks a token against this process's own token keys (the single-process setup). */
  verify(token: string): Promise<CapabilityClaims> {
    return this.verifier.verify(token);
  }

  private jwkOf(key: PublicKey): Promise<JWK> {
    let jwk = this.exported.get(key.keyId);
    if (!jwk) {
      jwk = exportJWK(key.publicKey).then((exported) => ({ ...exported, kid: key.keyId, alg: 'EdDSA', use: 'sig' }));
      this.exported.set(key.keyId, jwk);
    }
    return jwk;
  }

  /**
   * Mints the one token of an approved request. The caller must hold approvals:decide, or be the
   * requester with gateway:execute; the command and environment must be exactly those approved.
   */
  async mint(principal: Principal, input: MintInput): Promise<MintResult> {
    const { settings } = this.deps;
    const signing = this.deps.ring.current();
    const requested = opHash(readOperation(input).op);
    const actor = actorOf(principal);
    const outcome = await this.deps.store.transaction(async (tx): Promise<{ refusal: AirlockError } | { result: MintResult }> => {
      const row = await this.deps.approvals.lockForMint(tx, input.approval_id);
      if (!row) return { refusal: new AirlockError('approval_not_found', `no approval request ${input.approval_id}`, { status: 404 }) };
      const mayMint = hasScope(principal.scopes, 'approvals:decide') || (row.requested_by === principal.userId && hasScope(principal.scopes, 'gateway:execute'));
      if (!mayMint) return { refusal: new AirlockError('forbidden', 'minting needs approvals:decide, or gateway:execute on your own request', { status: 403 }) };
      if (!mayUse(principal, row)) return { refusal: new AirlockError('key_scope_denied', `this API key may not mint tokens for ${row.environment}/${row.target}`, { status: 403 }) };
      if (row.token_jti) return { refusal: new AirlockError('token_already_minted', `a token was already minted for ${row.id} at ${row.minted_at}`, { status: 409 }) };
      if (row.status !== 'APPROVED') return { refusal: new AirlockError('approval_not_approved', `request ${row.id} is ${row.status}, not APPROVED`, { status: 409 }) };
      if (row.expires_at <= new Date().toISOString()) return { refusal: new AirlockError('approval_expired', `the approval of ${row.id} expired at ${row.expires_at}`, { status: 409 }) };
      if (input.environment !== row.environment) {
        return { refusal: new AirlockError('environment_mismatch', `request ${row.id} was approved for ${row.environment}, not ${input.environment}`, { status: 403 }) };
      }
      if (requested !== row.op_hash) return { refusal: new AirlockError('command_mismatch', `the ${input.op ? 'operation' : 'command'} is not the one approved for ${row.id}`, { status: 403 }) };

      const now = Math.floor(Date.now() / 1000);
      const exp = now + settings.ttlSeconds;
      const jti = uuidv4();
      const token = await new SignJWT({ apr: row.id, env: row.environment, tgt: row.target, op: row.op_hash })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: signing.keyId })
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setSubject(row.requested_by)
        .setJti(jti)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(exp)
        .sign(signing.privateKey);
      const mintedAt = new Date(now * 1000).toISOString();
      await RECORD_MINT.run(tx, [jti, mintedAt, row.id]);
      await this.deps.audit.append(tx, {
        actor,
        action: 'token.minted',
        subject: { type: 'approval', id: row.id },
        environment: row.environment,
        target: row.target,
        data: { jti, kid: signing.keyId, op_hash: row.op_hash, expires_at: new Date(exp * 1000).toISOString() },
      });
      this.deps.approvals.notifyChanged(tx, row.id);
      return {
        result: {
          token,
          token_type: 'capability' as const,
          expires_at: new Date(exp * 1000).toISOString(),
          jti,
          approval_id: row.id,
          environment: row.environment,
          target: row.target,
          op_hash: row.op_hash,
        },
      };
    });
    if ('refusal' in outcome) {
      await this.deps.audit.record({ actor, action: 'token.refused', subject: { type: 'approval', id: input.approval_id }, data: { reason: outcome.refusal.code } });
      throw outcome.refusal;
    }
    return outcome.result;
  }
}
