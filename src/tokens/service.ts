import { createLocalJWKSet, exportJWK, jwtVerify, SignJWT, errors as joseErrors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { v4 as uuidv4 } from 'uuid';
import { z } from 'zod';
import { opHash, readOperation, type Approvals } from '../approvals/index.js';
import type { TypedOpSchema } from '../operations/schema.js';
import type { AuditLog, KeyPair } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { actorOf, hasScope, mayUse, type Principal } from '../identity/index.js';
import { Statement, type Store } from '../store/index.js';

/** The claims of a capability token (DESIGN.md section 2). */
export const CapabilityClaimsSchema = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string(),
  jti: z.string().min(1),
  iat: z.number(),
  nbf: z.number(),
  exp: z.number(),
  /** The approval this token executes. */
  apr: z.string().min(1),
  env: z.string().min(1),
  tgt: z.string().min(1),
  /** sha256 of the RFC 8785 canonical operation. */
  op: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CapabilityClaims = z.infer<typeof CapabilityClaimsSchema>;

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

/** Clock skew tolerated between the minting and the executing machine. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Capability tokens: EdDSA JWTs, minted once per approved request for exactly its operation, target
 * and environment, verified against published public keys only (no shared secret), algorithm pinned.
 */
export class Tokens {
  private readonly keySet: JWTVerifyGetKey;
  private readonly published: Promise<JSONWebKeySet>;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly audit: AuditLog;
      readonly approvals: Approvals;
      readonly signing: KeyPair;
      /** Every public key a token or receipt may be checked against (the signing key among them). */
      readonly publicKeys: readonly KeyPair[];
      readonly settings: TokenSettings;
    },
  ) {
    this.published = Promise.all(deps.publicKeys.map(async (pair) => ({ ...(await exportJWK(pair.publicKey)), kid: pair.keyId, alg: 'EdDSA', use: 'sig' }) as JWK)).then(
      (keys) => ({ keys }),
    );
    let cached: ReturnType<typeof createLocalJWKSet> | undefined;
    this.keySet = async (header, token) => {
      cached ??= createLocalJWKSet(await this.published);
      return cached(header, token);
    };
  }

  /** The public keys, as /.well-known/jwks.json publishes them. */
  jwks(): Promise<JSONWebKeySet> {
    return this.published;
  }

  /**
   * Mints the one token of an approved request. The caller must hold approvals:decide, or be the
   * requester with gateway:execute; the command and environment must be exactly those approved.
   */
  async mint(principal: Principal, input: MintInput): Promise<MintResult> {
    const { settings, signing } = this.deps;
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

  /** Verifies signature (EdDSA only, key by kid), issuer, audience, expiry and not-before, and the claims' shape. */
  async verify(token: string): Promise<CapabilityClaims> {
    try {
      const { payload } = await jwtVerify(token, this.keySet, {
        algorithms: ['EdDSA'],
        issuer: this.deps.settings.issuer,
        audience: this.deps.settings.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['jti', 'iat', 'nbf', 'exp', 'sub'],
      });
      const claims = CapabilityClaimsSchema.safeParse(payload);
      if (!claims.success) throw new AirlockError('token_invalid', 'the token lacks the capability claims', { status: 401 });
      return claims.data;
    } catch (error) {
      throw tokenError(error);
    }
  }
}

function tokenError(error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AirlockError('token_expired', 'the token has expired', { status: 401 });
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const code = error.claim === 'nbf' ? 'token_not_yet_valid' : 'token_invalid';
    return new AirlockError(code, error.claim === 'nbf' ? 'the token is not valid yet' : `the token's ${error.claim} claim is not accepted`, { status: 401 });
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new AirlockError('token_invalid', 'the token is not signed with EdDSA', { status: 401 });
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new AirlockError('token_invalid', 'the token is signed by an unknown key', { status: 401 });
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AirlockError('token_invalid', 'the token signature is invalid', { status: 401 });
  return new AirlockError('token_invalid', 'the token is malformed', { status: 401 });
}
