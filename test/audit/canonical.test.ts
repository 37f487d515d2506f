import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEvent, canonicalJson, chainHash, type HashedFields } from '../../src/audit/index.js';
import { GENESIS_HASH } from '../../src/store/index.js';

const nullableText = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });
const jsonData = fc.dictionary(fc.string({ unit: 'grapheme' }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown));

const fieldsArbitrary: fc.Arbitrary<HashedFields> = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  id: fc.uuid(),
  time: fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  actor: fc.string({ unit: 'grapheme' }),
  action: fc.string({ unit: 'grapheme' }),
  subject_type: nullableText,
  subject_id: nullableText,
  environment: nullableText,
  target: nullableText,
  data: jsonData.map((data) => canonicalJson(data)),
});

describe('canonical event form', () => {
  it('equals RFC 8785 canonicalization of the whole event, for any event', () => {
    fc.assert(
      fc.property(fieldsArbitrary, (fields) => {
        const reference = canonicalize({ ...fields, data: JSON.parse(fields.data) as unknown });
        expect(canonicalEvent(fields)).toBe(reference);
      }),
      { numRuns: 500 },
    );
  });

  it('hashes a known event to a known value, so the format can never drift unnoticed', () => {
    const fields: HashedFields = {
      seq: 1,
      id: '01890a5d-ac96-774b-bcce-b302099a8057',
      time: '2026-01-17T00:00:00.000Z',
      actor: 'key:ci',
      action: 'approval.requested',
      subject_type: 'approval',
      subject_id: 'apr_1',
      environment: 'prd',
      target: 'web-1',
      data: canonicalJson({ command: 'echo test', risk: 'LOW', n: 1.5 }),
    };
    const canonical = canonicalEvent(fields);
    expect(canonical).toBe(
      '{"action":"approval.requested","actor":"key:ci","data":{"command":"echo test","n":1.5,"risk":"LOW"},"environment":"prd",' +
        '"id":"01890a5d-ac96-774b-bcce-b302099a8057","seq":1,"subject_id":"apr_1","subject_type":"approval","target":"web-1","time":"2026-01-17T00:00:00.000Z"}',
    );
    // sha256("000…0" + canonical), computable with any sha256 tool: printf '%s%s' "$prev" "$canonical" | sha256sum
    expect(chainHash(GENESIS_HASH, canonical)).toBe('bc6282e9387867060a4105aafb653e0a56e75b603f3be342eace13d3345a61ea');
  });

  it('refuses data that JSON cannot state exactly', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/canonical JSON/);
    expect(() => canonicalJson({ s: '\uD800' })).toThrow(/canonical JSON/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(/canonical JSON/);
  });
});
