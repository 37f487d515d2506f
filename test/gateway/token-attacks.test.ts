import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadKeyPair } from '../../src/audit/index.js';
import { publicKeyFileOf } from '../../src/config/index.js';
import { storeKinds } from '../helpers/databases.js';
import { approvedToken, execute, startGate } from '../helpers/gate.js';

function decode(token: string): { header: Record<string, unknown>; payload: JWTPayload } {
  const [header, payload] = token.split('.') as [string, string];
  return { header: JSON.parse(Buffer.from(header, 'base64url').toString()), payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.each(storeKinds())('capability token attacks on %s', (kind) => {
  it('refuses every forged, altered, expired or misused token with 401/403 and runs nothing', async () => {
    const gate = await startGate(kind);
    const genuine = await approvedToken(gate, 'echo test');
    const other = await approvedToken(gate, 'echo other');
    const forTest = await approvedToken(gate, 'echo test', 'test');
    const body = { command: 'echo test', approval_id: genuine.id, environment: 'dev' };
    const { header, payload } = decode(genuine.token);
    const paths = gate.server.runtime.config.paths;
    const real = loadKeyPair(paths.tokenKeyFile, publicKeyFileOf(paths.tokenKeyFile), { create: false, label: 'token' });
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: JWTPayload, options: { kid?: string; key?: typeof real.privateKey } = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: options.kid ?? real.keyId }).sign(options.key ?? real.privateKey);
    const [signedPart, payloadPart, signaturePart] = genuine.token.split('.') as [string, string, string];

    const attacks: Array<[string, string | undefined, Record<string, unknown>, number, string]> = [
      ['no token', undefined, body, 401, 'token_missing'],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payloadPart}.`, body, 401, 'token_invalid'],
      ['HS256 keyed with the public key', await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: real.keyId }).sign(new TextEncoder().encode(real.publicKey.export({ type: 'spki', format: 'pem' }).toString())), body, 401, 'token_invalid'],
      ['expired', await sign({ ...payload, iat: now - 900, nbf: now - 900, exp: now - 600 }), body, 401, 'token_expired'],
      ['not yet valid', await sign({ ...payload, nbf: now + 600, exp: now + 900 }), body, 401, 'token_not_yet_valid'],
      ['wrong audience', await sign({ ...payload, aud: 'someone-else' }), body, 401, 'token_invalid'],
      ['wrong issuer', await sign({ ...payload, iss: 'mallory' }), body, 401, 'token_invalid'],
      ['unknown kid', await sign(payload, { kid: 'unknown-key-id' }), body, 401, 'token_invalid'],
      ['foreign Ed25519 key', await sign(payload, { key: generateKeyPairSync('ed25519').privateKey }), body, 401, 'token_invalid'],
      ['payload tampered', `${signedPart}.${b64({ ...payload, env: 'prd' })}.${signaturePart}`, { ...body, environment: 'prd' }, 401, 'token_invalid'],
      ['token for test used on prd', forTest.token, { ...body, approval_id: forTest.id, environment: 'prd' }, 403, 'environment_mismatch'],
      ['token for another command', genuine.token, { ...body, command: 'echo pwned' }, 403, 'command_mismatch'],
      ['token for another approval id', genuine.token, { ...body, approval_id: other.id }, 403, 'approval_mismatch'],
      ['validly signed for another target', await sign({ ...payload, tgt: 'web-1' }), body, 403, 'unknown_target'],
      ['validly signed for an approval it was not minted for', await sign({ ...payload, apr: other.id, jti: 'fresh-jti' }), { ...body, approval_id: other.id, command: 'echo test' }, 403, 'token_not_for_approval'],
      ['garbage', 'garbage', body, 401, 'token_invalid'],
      ['three dots of garbage', 'a.b.c', body, 401, 'token_invalid'],
      ['a header only', `${b64(header)}..`, body, 401, 'token_invalid'],
    ];
    for (const [name, token, requestBody, status, code] of attacks) {
      const response = await execute(gate.url, token, requestBody);
      expect(response.status, name).toBe(status);
      expect(response.body, name).toMatchObject({ success: false, code });
      expect(response.headers['content-type'], name).toMatch(/application\/problem\+json/);
    }
    expect(await gate.server.runtime.store.db.selectFrom('executions').selectAll().execute()).toEqual([]);
    const refusals = (await gate.auditActions()).filter((action) => action === 'execution.refused');
    expect(refusals).toHaveLength(attacks.length);

    // None of it consumed the genuine token.
    const ran = await execute(gate.url, genuine.token, body);
    expect(ran.body).toMatchObject({ success: true, output: 'test\n' });
  });
});
