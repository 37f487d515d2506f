import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/index.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { login } from '../helpers/identity.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

const TARGETS_ONE = 'targets:\n  one: { executor: local, capabilities: [exec] }\n';
const TARGETS_TWO = `${TARGETS_ONE}  two: { executor: local, capabilities: [exec], environments: [dev] }\n`;
const TARGETS_THREE = `${TARGETS_TWO}  three: { executor: local, capabilities: [exec] }\n`;
const BROKEN_TARGETS = 'targets:\n  one: { executor: telnet }\n';

/** A policy that puts the program deploy-web at `level`. */
const policyAt = (level: string) => `rules:\n  - id: deploy-web\n    level: ${level}\n    reason: deploys the web tier\n    match: { program: [deploy-web] }\n`;
const BROKEN_POLICY = 'rules:\n  - id: deploy-web\n    level: SEVERE\n    reason: deploys the web tier\n    match: { program: [deploy-web] }\n';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The configuration a server judges by, as a client sees it: its targets, and how deploy-web in dev would be judged. */
async function inForce(url: string, key: string) {
  const targets = (await http('GET', `${url}/v1/targets`, { headers: bearer(key) })).body.targets as Array<{ id: string }>;
  const explained = await http('POST', `${url}/v1/policy/explain`, { headers: bearer(key), json: { command: 'deploy-web --now', deployment_env: 'dev', target: 'one' } });
  expect(explained.status).toBe(200);
  const explanation = explained.body.explanation as { risk_level: string; auto_approve: boolean; required_approvals: number; step_up_required: boolean };
  return {
    targets: targets.map((target) => target.id),
    level: explanation.risk_level,
    autoApprove: explanation.auto_approve,
    approvers: explanation.required_approvals,
    stepUp: explanation.step_up_required,
  };
}

describe.each(storeKinds())('reloading targets and policy together on %s', (kind) => {
  it('POST /v1/admin/reload swaps both files in, or neither when one is invalid, and audits each outcome', async () => {
    const dir = tmpDir();
    const targetsFile = join(dir, 'targets.yaml');
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(targetsFile, TARGETS_ONE);
    writeFileSync(policyFile, policyAt('LOW'));
    const gate = await startGate(kind, { targets: { file: targetsFile }, policy: { file: policyFile } });
    // Only explicit reloads here: the file watcher (tested in test/targets) would reload on its own.
    gate.server.runtime.targets.close();
    const { url, admin } = gate;
    expect(await inForce(url, admin)).toEqual({ targets: ['one'], level: 'LOW', autoApprove: true, approvers: 0, stepUp: false });

    // A rule and a target change together.
    writeFileSync(targetsFile, TARGETS_TWO);
    writeFileSync(policyFile, policyAt('HIGH'));
    const reloaded = await http('POST', `${url}/v1/admin/reload`, { headers: bearer(admin) });
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toEqual({
      reloaded: true,
      source: targetsFile,
      sha256: sha256(targetsFile),
      targets: ['one', 'two'],
      loaded: {
        targets: { file: targetsFile, sha256: sha256(targetsFile), count: 2, ids: ['one', 'two'] },
        policy: { file: policyFile, sha256: sha256(policyFile), rules: 1 },
      },
    });
    expect(await inForce(url, admin)).toEqual({ targets: ['one', 'two'], level: 'HIGH', autoApprove: false, approvers: 1, stepUp: true });
    // A new request is judged by the new policy, on the new target.
    const created = await gate.request({ command: 'deploy-web --now', deployment_env: 'dev', target: 'two' });
    expect(created.status).toBe(201);
    expect(created.body.request).toMatchObject({ status: 'PENDING', risk_level: 'HIGH', target: 'two' });
    const policyView = await http('GET', `${url}/v1/policy`, { headers: bearer(admin) });
    expect(policyView.body.policy).toMatchObject({ source: policyFile, sha256: sha256(policyFile), rules: [{ id: 'deploy-web', level: 'HIGH' }] });

    // A broken policy with a valid targets change: neither is taken.
    writeFileSync(policyFile, BROKEN_POLICY);
    writeFileSync(targetsFile, TARGETS_THREE);
    const brokenPolicy = await http('POST', `${url}/v1/admin/reload`, { headers: bearer(admin) });
    expect(brokenPolicy.status).toBe(422);
    expect(brokenPolicy.headers['content-type']).toContain('application/problem+json');
    expect(brokenPolicy.body).toMatchObject({ code: 'config_reload_failed', files: [{ kind: 'policy', file: policyFile }] });
    expect(brokenPolicy.body.problems).toEqual([expect.stringMatching(new RegExp(`^${policyFile}: rules\\.0\\.level: `))]);
    expect(brokenPolicy.body.detail).toContain(policyFile);
    expect(await inForce(url, admin)).toEqual({ targets: ['one', 'two'], level: 'HIGH', autoApprove: false, approvers: 1, stepUp: true });

    // A broken targets file with a valid policy change: neither is taken either.
    writeFileSync(targetsFile, BROKEN_TARGETS);
    writeFileSync(policyFile, policyAt('CRITICAL'));
    const brokenTargets = await http('POST', `${url}/v1/admin/reload`, { headers: bearer(admin) });
    expect(brokenTargets.status).toBe(422);
    expect(brokenTargets.body).toMatchObject({ code: 'config_reload_failed', files: [{ kind: 'targets', file: targetsFile }] });
    for (const problem of brokenTargets.body.problems) expect(problem).toMatch(new RegExp(`^${targetsFile}: targets\\.one`));
    expect(await inForce(url, admin)).toEqual({ targets: ['one', 'two'], level: 'HIGH', autoApprove: false, approvers: 1, stepUp: true });
    expect((await http('GET', `${url}/health`)).status).toBe(200);

    // Both fixed: the CRITICAL rule and the third target come in together.
    writeFileSync(targetsFile, TARGETS_THREE);
    expect((await http('POST', `${url}/v1/admin/reload`, { headers: bearer(admin) })).status).toBe(200);
    expect(await inForce(url, admin)).toEqual({ targets: ['one', 'two', 'three'], level: 'CRITICAL', autoApprove: false, approvers: 2, stepUp: true });

    // The chain holds every outcome, with the hash of each file, and still verifies.
    const rows = await gate.server.runtime.store.db.selectFrom('audit_events').select(['action', 'actor', 'data']).where('action', 'like', 'config.%').orderBy('seq').execute();
    const events = rows.map((row) => ({ action: row.action, data: JSON.parse(row.data) as Record<string, any> }));
    expect(events.map((event) => event.action)).toEqual(['config.reloaded', 'config.reload_failed', 'config.reload_failed', 'config.reloaded']);
    expect(events[0]?.data).toMatchObject({
      trigger: 'http',
      files: { targets: { file: targetsFile, sha256: reloaded.body.sha256, targets: 2 }, policy: { file: policyFile, sha256: reloaded.body.loaded.policy.sha256, rules: 1 } },
    });
    expect(events[1]?.data).toMatchObject({ trigger: 'http', failed: [{ kind: 'policy', file: policyFile }], kept: { targets_sha256: reloaded.body.sha256, policy_sha256: reloaded.body.loaded.policy.sha256 } });
    expect(events[2]?.data).toMatchObject({ failed: [{ kind: 'targets', file: targetsFile }] });
    expect(events[3]?.data).toMatchObject({ files: { targets: { sha256: sha256(targetsFile), targets: 3 }, policy: { sha256: sha256(policyFile) } } });
    const actions = await gate.auditActions();
    expect(actions.filter((action) => action === 'targets.reloaded')).toHaveLength(2);
    expect(actions.filter((action) => action === 'targets.reload_failed')).toHaveLength(1);
    const signer = gate.server.runtime.signer;
    expect(await verifyChain(gate.server.runtime.store, new Map([[signer.keyId, signer.publicKey]]))).toMatchObject({ ok: true });
  });

  it('an invalid file at start refuses to start, naming the file', async () => {
    const dir = tmpDir();
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, BROKEN_POLICY);
    await expect(startGate(kind, { policy: { file: policyFile } })).rejects.toThrow(policyFile);
  });

  it('SIGHUP reloads a running `airlock serve` the same way, and a broken file keeps the old configuration', async () => {
    const cwd = tmpDir();
    const database = await createDatabase(kind);
    const targetsFile = join(cwd, 'targets.yaml');
    const policyFile = join(cwd, 'policy.yaml');
    writeFileSync(targetsFile, TARGETS_ONE);
    writeFileSync(policyFile, policyAt('LOW'));
    const env = { AIRLOCK_TARGETS_FILE: targetsFile, AIRLOCK_POLICY_FILE: policyFile, AIRLOCK_DATABASE_URL: database.url, AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'Reload-Test-Password-77' };
    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0'], { cwd, env: cleanEnv(env) });
    const key = (await login(server.url, { username: 'admin', password: env.AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD })).accessToken;
    expect(await inForce(server.url, key)).toMatchObject({ targets: ['one'], level: 'LOW' });

    writeFileSync(targetsFile, TARGETS_TWO);
    writeFileSync(policyFile, policyAt('HIGH'));
    server.signal('SIGHUP');
    await server.waitFor('policy and targets reloaded');
    expect(await inForce(server.url, key)).toEqual({ targets: ['one', 'two'], level: 'HIGH', autoApprove: false, approvers: 1, stepUp: true });

    // The broken file is written first, so that the watcher of targets.yaml (which reloads both) fails too.
    writeFileSync(policyFile, BROKEN_POLICY);
    writeFileSync(targetsFile, TARGETS_THREE);
    server.signal('SIGHUP');
    await server.waitFor('policy and targets were not reloaded');
    expect(server.output()).toMatch(/"error_code":"config_reload_failed"/);
    expect(server.output()).toContain(`${policyFile}: rules.0.level`);
    expect(await inForce(server.url, key)).toEqual({ targets: ['one', 'two'], level: 'HIGH', autoApprove: false, approvers: 1, stepUp: true });
    expect((await http('GET', `${server.url}/health`)).status).toBe(200);

    const listed = await http('GET', `${server.url}/v1/audit/events?limit=500`, { headers: bearer(key) });
    const events = (listed.body.events as Array<{ action: string; actor: string; data: Record<string, any> }>).reverse();
    const sighup = events.filter((event) => event.action.startsWith('config.') && event.actor === 'system:sighup');
    expect(sighup.map((event) => event.action)).toEqual(['config.reloaded', 'config.reload_failed']);
    expect(sighup[0]?.data).toMatchObject({ trigger: 'sighup', files: { targets: { targets: 2 }, policy: { file: policyFile, rules: 1 } } });
    expect(sighup[1]?.data).toMatchObject({ trigger: 'sighup', failed: [{ kind: 'policy', file: policyFile }], kept: { targets_sha256: sighup[0]?.data.files.targets.sha256 } });
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    const verified = await runCli(['audit', 'verify'], { cwd, env });
    expect(verified.stdout).toContain('audit chain OK');
    expect(verified.code).toBe(0);
    // A real process, a login and a CLI run: more than the default time on a loaded machine.
  }, 180_000);
});

describe('checking the files before a reload', () => {
  it('`airlock config validate` lists the problems a reload would refuse, in both files', async () => {
    const cwd = tmpDir();
    writeFileSync(join(cwd, 'targets.yaml'), BROKEN_TARGETS);
    writeFileSync(join(cwd, 'policy.yaml'), BROKEN_POLICY);
    const env = { AIRLOCK_TARGETS_FILE: join(cwd, 'targets.yaml'), AIRLOCK_POLICY_FILE: join(cwd, 'policy.yaml') };
    const result = await runCli(['config', 'validate'], { cwd, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ {2}- targets\.file: targets\.one/m);
    expect(result.stderr).toMatch(/^ {2}- policy\.file: rules\.0\.level: /m);
    writeFileSync(join(cwd, 'targets.yaml'), TARGETS_ONE);
    writeFileSync(join(cwd, 'policy.yaml'), policyAt('HIGH'));
    expect((await runCli(['config', 'validate'], { cwd, env })).code).toBe(0);
  }, 120_000);
});
