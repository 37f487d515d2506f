import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';

describe.each(storeKinds())('incidents on %s', (kind) => {
  it('are recorded into the audit chain by the CLI and the API, listed back, and refused whole when invalid', async () => {
    const gate = await startGate(kind);
    const dataDir = gate.server.runtime.config.paths.base;
    const cwd = tmpDir();
    const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir, '--database-url', gate.database.url], { cwd });
    const head = async () => (await gate.server.runtime.audit.head()).seq;
    const created = await gate.request({ command: 'echo suspicious', deployment_env: 'dev' });
    const approvalId = created.body.request.request_id as string;

    const added = await cli('incidents', 'add', '--severity', 'high', '--title', 'token replay attempts', '--summary', 'three replays from 10.0.4.7 within a minute', '--target', 'local', '--environment', 'dev', '--approval', approvalId, '--json');
    expect(added.code, added.stderr).toBe(0);
    const incident = JSON.parse(added.stdout);
    expect(incident).toMatchObject({
      severity: 'high',
      title: 'token replay attempts',
      summary: 'three replays from 10.0.4.7 within a minute',
      target: 'local',
      environment: 'dev',
      approval_id: approvalId,
      reported_by: expect.stringMatching(/^cli:incidents:/),
    });
    // It is an audit event like any other: in the chain at its seq, with its hash.
    const event = await gate.server.runtime.store.db.selectFrom('audit_events').selectAll().where('seq', '=', incident.seq).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ action: 'incident.recorded', subject_type: 'incident', subject_id: incident.id, target: 'local', environment: 'dev', hash: incident.hash, actor: incident.reported_by });

    // Bad input is refused with a clear error, and nothing is appended.
    const before = await head();
    const refusals: Array<[string[], number, RegExp]> = [
      [['--severity', 'urgent', '--title', 'x'], 2, /argument 'urgent' is invalid\. Allowed choices are low, medium, high, critical/],
      [['--severity', 'low'], 2, /required option '--title <text>' not specified/],
      [['--title', 'no severity'], 2, /required option '--severity <level>' not specified/],
      [['--severity', 'low', '--title', '   '], 1, /the incident is invalid: title: the title must not be empty \[incident_invalid\]/],
      [['--severity', 'low', '--title', 'x', '--target', 'web 1'], 1, /target: letters, digits .*\[incident_invalid\]/],
      [['--severity', 'low', '--title', 'x', '--approval', 'no-such-request'], 1, /no request no-such-request \[approval_not_found\]/],
    ];
    for (const [args, code, error] of refusals) {
      const refused = await cli('incidents', 'add', ...args);
      expect(refused.code, args.join(' ')).toBe(code);
      expect(refused.stderr, args.join(' ')).toMatch(error);
    }
    expect(await head()).toBe(before);

    // Over HTTP: admins record, audit:read lists, others are refused; a bad body appends nothing.
    const posted = await http('POST', `${gate.url}/v1/incidents`, { headers: bearer(gate.admin), json: { severity: 'low', title: 'restored from the nightly backup', environment: 'prd' } });
    expect(posted.status).toBe(201);
    expect(posted.body.incident).toMatchObject({ severity: 'low', title: 'restored from the nightly backup', environment: 'prd', target: null, summary: null, reported_by: expect.stringMatching(/^key:/) });
    const afterPost = await head();
    const recorded = async () => (await gate.server.runtime.store.db.selectFrom('audit_events').select('seq').where('action', '=', 'incident.recorded').execute()).length;
    const bad = await http('POST', `${gate.url}/v1/incidents`, { headers: bearer(gate.admin), json: { severity: 'urgent', title: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
    const notAdmin = await http('POST', `${gate.url}/v1/incidents`, { headers: bearer(gate.approver), json: { severity: 'low', title: 'x' } });
    expect(notAdmin.status).toBe(403);
    // (The refusal itself is audited; no incident is.)
    expect(await recorded()).toBe(2);

    const auditor = await gate.server.runtime.keys.create({ name: 'auditor', scopes: ['audit:read'], actor: 'test' });
    const listed = await http('GET', `${gate.url}/v1/incidents?severity=high,critical`, { headers: bearer(auditor.key) });
    expect(listed.status).toBe(200);
    expect(listed.body.incidents.map((item: { id: string }) => item.id)).toEqual([incident.id]);
    expect((await http('GET', `${gate.url}/v1/incidents`, { headers: bearer(gate.agent) })).status).toBe(403);

    const all = await cli('incidents', 'list', '--json');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).map((item: { title: string }) => item.title)).toEqual(['restored from the nightly backup', 'token replay attempts']);
    const high = await cli('incidents', 'list', '--severity', 'high');
    // A header, then one aligned row.
    expect(high.stdout).toMatch(/^TIME\s+SEVERITY\s+TITLE\s+CONCERNS\s+BY\s+ID\s+SEQ\n\S+Z {2}HIGH {6}token replay attempts {2}target=local env=dev request=\S+ {2}cli:incidents:\S+ {2}\S+ +\d+\n$/);
    expect(JSON.parse((await cli('incidents', 'list', '--since', '1d', '--limit', '1', '--json')).stdout)).toHaveLength(1);
    expect((await cli('incidents', 'list', '--since', '2999-01-01T00:00:00Z')).stdout).toBe('no incidents\n');
    expect((await cli('incidents', 'list', '--severity', 'bogus')).stderr).toMatch(/\[incident_query_invalid\]/);

    // The chain with the incidents in it verifies.
    const verified = await cli('audit', 'verify', '--json');
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, headSeq: await head() });
    expect(JSON.parse(verified.stdout).headSeq).toBeGreaterThanOrEqual(afterPost);
  }, 300_000);
});
