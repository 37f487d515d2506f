import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { keyIdOf } from '../audit/index.js';
import { publicKeyFileOf, type ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import { FileBacked, retiredTokenKeys, type PublicKey } from './keyring.js';

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

/** Clock skew tolerated between the minting and the executing machine. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** What the gateway needs of tokens: a check, never a key that could mint one. */
export interface CapabilityVerifier {
  verify(token: string): Promise<CapabilityClaims>;
}

/** Verifies signature (EdDSA only, key by kid), issuer, audience, expiry and not-before, and the claims' shape. */
export class TokenVerifier implements CapabilityVerifier {
  constructor(
    private readonly keySet: JWTVerifyGetKey,
    private readonly settings: { readonly issuer: string; readonly audience: string },
  ) {}

  async verify(token: string): Promise<CapabilityClaims> {
    try {
      const { payload } = await jwtVerify(token, this.keySet, {
        algorithms: ['EdDSA'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
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

/** A key set over keys held in this process, looked up by the token's kid. */
export function localKeySet(keys: () => readonly PublicKey[]): JWTVerifyGetKey {
  return async (header) => {
    const key = header.kid === undefined ? undefined : keys().find((candidate) => candidate.keyId === header.kid);
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key.publicKey;
  };
}

/**
 * The keys a gateway trusts, from the configuration: the API's JWKS URL (fetched again when a token
 * names a kid it has not seen, so a rotation needs no restart), a JWKS file (read again when it
 * changes), or else the public key files of the keys folder. Never a private key.
 */
export function configuredKeySet(config: ResolvedConfig): { keySet: JWTVerifyGetKey; source: string } {
  const { jwksUrl, jwksFile } = config.tokens;
  if (jwksUrl) return { keySet: remoteKeySet(new URL(jwksUrl)), source: jwksUrl };
  if (jwksFile) {
    const set = new FileBacked(jwksFile, () => createLocalJWKSet(readJwks(jwksFile)));
    return { keySet: (header, token) => set.get()(header, token), source: jwksFile };
  }
  const publicFile = publicKeyFileOf(config.paths.tokenKeyFile);
  const current = new FileBacked(publicFile, () => readPublicKey(publicFile));
  const retired = new FileBacked(config.paths.retiredKeysDir, () => retiredTokenKeys(config.paths.retiredKeysDir));
  return {
    keySet: localKeySet(() => {
      const now = Date.now();
      return [current.get(), ...retired.get().filter((key) => key.notAfter > now)];
    }),
    source: publicFile,
  };
}

/** How often a token naming an unknown kid may make the gateway fetch the JWKS again. */
const REFETCH_INTERVAL_MS = 1000;

/**
 * The API's JWKS over HTTP, cached. A token with a kid the cache lacks is most likely the first of a
 * rotated key, so the set is fetched again at once (one fetch shared by concurrent requests, at most
 * once a second, so tokens with made-up kids cannot turn the gateway into a fetch loop).
 */
function remoteKeySet(url: URL): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, { cooldownDuration: 30_000, timeoutDuration: 5000 });
  let refetch: Promise<void> | undefined;
  let refetchedAt = 0;
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      if (!refetch) {
        if (Date.now() - refetchedAt < REFETCH_INTERVAL_MS) throw error;
        refetchedAt = Date.now();
        refetch = remote.reload().finally(() => (refetch = undefined));
      }
      await refetch;
      return remote(header, token);
    }
  };
}

function readJwks(file: string): JSONWebKeySet {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
    if (!Array.isArray(parsed.keys)) throw new Error('it has no "keys" array');
    return parsed;
  } catch (error) {
    throw new AirlockError('key_missing', `cannot read the JWKS file ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function readPublicKey(file: string): PublicKey {
  try {
    const publicKey = createPublicKey(readFileSync(file, 'utf8'));
    return { keyId: keyIdOf(publicKey), publicKey };
  } catch (error) {
    const hint = 'set AIRLOCK_JWKS_URL to the API\'s /.well-known/jwks.json, AIRLOCK_JWKS_FILE, or share the API\'s keys folder';
    throw new AirlockError('key_missing', `the gateway has no token public key at ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ${hint}`, { cause: error });
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
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID') {
    return new AirlockError('token_keys_unavailable', 'the gateway cannot load the token keys right now', { status: 503 });
  }
  return new AirlockError('token_invalid', 'the token is malformed', { status: 401 });
}
