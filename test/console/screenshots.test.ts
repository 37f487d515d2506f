import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, PHONE, TestBrowser, card, logIn, type PageGlobals } from '../helpers/browser.js';
import { execute, startGate } from '../helpers/gate.js';
import { http } from '../helpers/http.js';
import { createPerson } from '../helpers/identity.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * The console's main pages with realistic content, at desktop and phone width. Run with
 * AIRLOCK_SCREENSHOTS=docs/screenshots (npm run screenshots) to refresh the pictures in the README;
 * otherwise they go to a temporary folder, and the test still checks each page renders cleanly.
 */
const OUT = process.env.AIRLOCK_SCREENSHOTS ? resolve(process.env.AIRLOCK_SCREENSHOTS) : tmpDir('airlock-screens-');

const GOOD_INSTRUCTION = `DELIVERABLES: nginx serves the new TLS certificate
SUCCESS_CRITERIA: curl -I https://shop.example.com shows the new expiry date
BOUNDARIES: only the nginx service on web-01; no config changes
DEPENDENCIES: the certificate was renewed by certbot at 09:00
MITIGATION: nginx -t passed; systemctl restart brings the old process back on failure
TEST_PROCESS: curl the health endpoint before and after
TEST_RESULTS_FORMAT: HTTP status and certificate expiry as text
RESOURCE_REQUIREMENTS: none
RISK_ASSESSMENT: medium, a few seconds of refused connections
QUALITY_METRICS: no 5xx in the access log for 10 minutes afterwards

Command: systemctl restart nginx`;

const READ_INSTRUCTION = `DELIVERABLES: the running kernel's name and release
SUCCESS_CRITERIA: one line such as "Linux 6.1.0-28-amd64"
BOUNDARIES: read-only, nothing changes on the host
DEPENDENCIES: none
MITIGATION: none needed, nothing is changed
TEST_PROCESS: compare with the release in the update notice
TEST_RESULTS_FORMAT: the output line as text
RESOURCE_REQUIREMENTS: none
RISK_ASSESSMENT: low, read-only
QUALITY_METRICS: exit code 0 and one line of output

Command: uname -sr`;

const THIN_INSTRUCTION = `DELIVERABLES: htop on the build host
SUCCESS_CRITERIA: htop --version prints a version
BOUNDARIES: TBD
RISK_ASSESSMENT: low

Command: apt-get install -y htop`;

describe('screenshots of the console', () => {
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = await TestBrowser.launch();
    mkdirSync(OUT, { recursive: true });
  });
  afterEach(() => {
    expect(browser.problems.splice(0)).toEqual([]);
  });

  async function shoot(page: Page, name: string, fullPage = true): Promise<void> {
    await page.locator('.loading').first().waitFor({ state: 'detached' });
    // The caret, focus rings and passing notices are not part of the picture.
    await page.evaluate(() => {
      const { document } = globalThis as unknown as PageGlobals;
      document.activeElement?.blur();
      for (const toast of document.querySelectorAll('.toast')) toast.remove();
    });
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });
  }

  it('takes the inbox, a request, the audit chain, the dashboard and the admin pages', async () => {
    const gate = await startGate('sqlite');
    const { runtime } = gate.server;
    const alice = await createPerson(runtime, 'alice', 'admin');
    const bob = await createPerson(runtime, 'bob', 'approver');

    // Yesterday's traffic, for the charts (rows of demo history: the requests of the last day and how
    // long their decisions took).
    const now = Date.now();
    const levels = ['LOW', 'LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
    const rows = [];
    for (let hour = 23; hour >= 1; hour -= 1) {
      const count = 2 + ((hour * 7) % 5);
      for (let index = 0; index < count; index += 1) {
        const level = levels[(hour + index * 3) % levels.length] as (typeof levels)[number];
        const created = new Date(now - hour * 3_600_000 + index * 240_000);
        const human = level !== 'LOW';
        const latency = human ? (30 + ((hour * 13 + index * 29) % 600)) * 1000 : 0;
        rows.push({
          id: uuidv7(),
          worker_id: 'ci-runner',
          task_name: 'routine maintenance',
          instruction: '',
          environment: 'stg',
          target: 'local',
          command: 'echo demo',
          op: '{"argv":["echo","demo"],"kind":"exec"}',
          op_hash: '0'.repeat(64),
          risk_level: level,
          risk_reasons: '[]',
          score: 80,
          findings: '[]',
          status: index % 9 === 4 ? 'REJECTED' : 'EXECUTED',
          requested_by: gate.person.userId,
          decided_by: human ? bob.userId : 'policy',
          decision_reason: null,
          created_at: created.toISOString(),
          expires_at: new Date(created.getTime() + 3_600_000).toISOString(),
          decided_at: new Date(created.getTime() + latency).toISOString(),
          token_jti: null,
          minted_at: null,
          executed_at: null,
          required_approvals: level === 'CRITICAL' ? 2 : 1,
          step_up: level === 'HIGH' || level === 'CRITICAL' ? 1 : 0,
        });
      }
    }
    await runtime.store.db.insertInto('approvals').values(rows).execute();

    // Today's requests, through the API.
    const asked = await gate.request({
      command: 'uname -sr',
      deployment_env: 'dev',
      task_name: 'check the kernel version on build-02',
      instruction: READ_INSTRUCTION,
    });
    expect(asked.body.request.status).toBe('APPROVED');
    const ran = { id: asked.body.request.request_id as string, command: 'uname -sr' };
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: ran.id, command: ran.command, environment: 'dev' } });
    const executed = await execute(gate.url, minted.body.token as string, { command: ran.command, approval_id: ran.id, environment: 'dev' });
    expect(executed.status).toBe(200);
    const rejected = (await gate.request({ command: 'docker rm -f web', deployment_env: 'stg', task_name: 'remove the old web container', instruction: GOOD_INSTRUCTION.replace('systemctl restart nginx', 'docker rm -f web') })).body.request.request_id as string;
    await gate.decide(rejected, 'reject', gate.approver, 'use docker compose down instead');
    const critical = (await gate.request({ command: 'shutdown -r +5 "kernel update"', deployment_env: 'dev', task_name: 'reboot build-02 for the kernel update', instruction: GOOD_INSTRUCTION.replace('systemctl restart nginx', 'shutdown -r +5 "kernel update"') })).body.request.request_id as string;
    await gate.decide(critical, 'approve');
    const high = (await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev', task_name: 'install htop on the build host', instruction: THIN_INSTRUCTION })).body.request.request_id as string;
    const medium = (await gate.request({ command: 'systemctl restart nginx', deployment_env: 'stg', task_name: 'restart nginx for the renewed certificate', instruction: GOOD_INSTRUCTION })).body.request.request_id as string;

    // The inbox, desktop and phone.
    const page = await browser.page(DESKTOP);
    await logIn(page, gate.url, bob);
    await card(page, medium).waitFor();
    await card(page, high).waitFor();
    await card(page, critical).waitFor();
    await shoot(page, 'inbox');
    await card(page, high).getByRole('button', { name: 'Approve' }).click();
    await card(page, high).getByLabel('Your TOTP code').waitFor();

    const phone = await browser.page(PHONE);
    await logIn(phone, gate.url, alice);
    await card(phone, critical).waitFor();
    await shoot(phone, 'inbox-phone', false);
    await phone.context().close();

    const login = await browser.page(PHONE);
    await login.goto(`${gate.url}/app/`);
    await login.getByRole('button', { name: 'Log in' }).waitFor();
    await shoot(login, 'login-phone', false);
    await login.context().close();

    // A request's history: executed, with its output and receipt.
    await page.goto(`${gate.url}/app/requests/${ran.id}`);
    await page.getByRole('button', { name: 'Download receipt' }).waitFor();
    await shoot(page, 'request');

    // The audit chain, verified.
    await page.goto(`${gate.url}/app/audit?limit=25`);
    await page.getByRole('button', { name: 'Verify the chain now' }).click();
    await page.locator('.chain .ok', { hasText: 'Chain intact' }).waitFor();
    await page.locator('table.audit tbody tr').first().waitFor();
    await shoot(page, 'audit', false);

    // The dashboard.
    await page.goto(`${gate.url}/app/dashboard?hours=24`);
    await page.locator('.chart svg rect.bar').first().waitFor();
    await shoot(page, 'dashboard');

    // Admin: a key just created (shown once), and the users.
    await page.context().close();
    const admin = await browser.page(DESKTOP);
    await logIn(admin, gate.url, alice);
    await admin.goto(`${gate.url}/app/admin/keys`);
    await admin.getByLabel('Name', { exact: true }).fill('claude-agent');
    await admin.getByLabel('gateway:execute').check();
    await admin.getByLabel('Environments').fill('dev, stg');
    await admin.getByRole('button', { name: 'Create key' }).click();
    await admin.getByRole('textbox', { name: 'API key claude-agent' }).waitFor();
    await shoot(admin, 'admin-keys');
    await admin.goto(`${gate.url}/app/admin/users`);
    await admin.locator('tr', { hasText: 'bob' }).waitFor();
    await admin.goto(`${gate.url}/app/admin/targets`);
    await admin.getByRole('button', { name: 'Validate targets.yaml and policy.yaml' }).click();
    await admin.getByText('Both files are valid.').waitFor();

    expect((await http('GET', `${gate.url}/health`)).status).toBe(200);
  });
});
