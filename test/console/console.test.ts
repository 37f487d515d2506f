import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser, PHONE, card, fitsWidth, logIn, type PageGlobals } from '../helpers/browser.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { createPerson } from '../helpers/identity.js';
import { spawnServer } from '../helpers/process.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * The web console in a real browser (Debian's Chromium through playwright-core), against a real
 * server on SQLite. Every test ends with no console error, no uncaught exception and no CSP violation
 * on any page it opened.
 */
describe('the web console', () => {
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = await TestBrowser.launch();
  });
  afterEach(() => {
    expect(browser.problems.splice(0)).toEqual([]);
  });

  it('lets a new user who ran `airlock serve` log in with the printed admin password and approve a request', async () => {
    const cwd = tmpDir();
    const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0'], { cwd, env: cleanEnv() });
    const password = /created the admin user "admin" with the password (\S+)/.exec(server.output())?.[1];
    expect(password).toBeDefined();
    const created = await runCli(['keys', 'create', '--name', 'agent', '--scope', 'approvals:request,approvals:read'], { cwd });
    const key = /^key \(shown only now, store it\): (\S+)$/m.exec(created.stdout)?.[1] as string;
    const asked = await http('POST', `${server.url}/approvals/request`, {
      headers: { 'x-wingman-approval-request-key': key },
      json: { worker_id: 'agent-1', task_name: 'restart nginx', deployment_env: 'dev', command: 'systemctl restart nginx' },
    });
    expect(asked.body.request).toMatchObject({ status: 'PENDING', risk_level: 'MEDIUM' });

    const page = await browser.page();
    await logIn(page, server.url, { username: 'admin', password: password as string });
    const item = card(page, asked.body.request.request_id as string);
    await item.getByRole('button', { name: 'Approve' }).click();
    await item.getByRole('button', { name: 'Confirm approval' }).click();
    await item.waitFor({ state: 'detached' });
    const decided = await http('GET', `${server.url}/approvals/${asked.body.request.request_id as string}`, { headers: bearer(key) });
    expect(decided.body.request).toMatchObject({ status: 'APPROVED', approvals: [{ username: 'admin' }] });
    await page.context().close();
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('logs a person in with password and TOTP, keeps the session across a reload, and logs out', async () => {
    const gate = await startGate('sqlite');
    const page = await browser.page();
    await page.goto(`${gate.url}/`);
    expect(new URL(page.url()).pathname).toBe('/app/');
    const csp = (await page.request.get(`${gate.url}/app/`)).headers()['content-security-policy'];
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline/);

    await page.getByLabel('Username').fill('approver');
    await page.getByLabel('Password').fill(gate.person.password);
    await page.getByLabel('TOTP code').fill(gate.person.code());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Inbox' }).waitFor();
    expect(await page.locator('header .user').textContent()).toContain('approver');
    const cookie = (await page.context().cookies()).find((entry) => entry.name === 'airlock_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Inbox' }).waitFor();
    await page.getByText('live', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    expect(await page.getByText('TOTP is on').count()).toBe(1);

    await page.locator('header').getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect((await page.context().cookies()).find((entry) => entry.name === 'airlock_session')).toBeUndefined();
    const actions = await gate.auditActions();
    expect(actions).toContain('auth.login');
    expect(actions).toContain('auth.logout');
  });

  it('shows a request made over the API in the inbox without a reload, with its risk, argv, instruction and expiry', async () => {
    const gate = await startGate('sqlite');
    const page = await browser.page();
    await logIn(page, gate.url, gate.person);
    await page.getByText('Nothing is waiting for a decision.').waitFor();
    // A mark on the window: it survives only if the page is never reloaded.
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).sameDocument = true;
    });

    const created = await gate.request({
      command: `apt-get install -y 'htop' "two words" ''`,
      deployment_env: 'dev',
      task_name: 'install htop',
      instruction: 'DELIVERABLES: htop installed\nSUCCESS_CRITERIA: htop --version works\nBOUNDARIES: only this package\n\nCommand: apt-get install -y htop',
    });
    expect(created.status).toBe(201);
    const id = created.body.request.request_id as string;
    const item = card(page, id);
    await item.waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sameDocument)).toBe(true);

    expect(await item.locator('.risk').textContent()).toContain('HIGH');
    expect(await item.locator('.argv code').allTextContents()).toEqual(['apt-get', 'install', '-y', 'htop', 'two words', '(empty)']);
    expect(await item.getByText('install htop', { exact: true }).count()).toBe(1);
    expect(await item.locator('.facts').textContent()).toMatch(/Targetlocal.*Environmentdev.*Requestersvc-agent for test-worker/);
    expect(await item.locator('.reasons').textContent()).toContain('installs, removes or upgrades packages');
    expect(await item.locator('.section.weak').count()).toBe(7);
    expect(await item.locator('.section.ok').count()).toBe(3);
    expect(await item.locator('.times').textContent()).toMatch(/expires in (\d+ min|1 h)/);
    expect(await item.getByText('Approving needs your TOTP code').count()).toBe(1);

    // A second one lands above it: newest first.
    const second = (await gate.request({ command: 'systemctl restart nginx', deployment_env: 'dev', task_name: 'restart nginx' })).body.request.request_id as string;
    await card(page, second).waitFor();
    expect(await page.locator('article[data-request-id]').evaluateAll((cards) => cards.map((element) => element.getAttribute('data-request-id')))).toEqual([second, id]);

    // Decided elsewhere: it leaves the inbox on its own.
    await gate.decide(second, 'reject', gate.approver, 'not today');
    await card(page, second).waitFor({ state: 'detached' });
  });

  it('approves a HIGH request with a TOTP code, from the keyboard', async () => {
    const gate = await startGate('sqlite');
    const page = await browser.page();
    await logIn(page, gate.url, gate.person);
    const id = (await gate.request({ command: 'apt-get install -y htop', deployment_env: 'dev', task_name: 'install htop' })).body.request.request_id as string;
    const item = card(page, id);
    await item.waitFor();

    await page.keyboard.press('j');
    await page.waitForFunction((requestId) => (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute('data-request-id') === requestId, id);
    await page.keyboard.press('a');
    const code = item.getByLabel('Your TOTP code');
    await code.waitFor();
    expect(await code.evaluate((element) => element === (globalThis as unknown as PageGlobals).document.activeElement)).toBe(true);
    await page.keyboard.press('Escape');
    await code.waitFor({ state: 'detached' });
    await page.keyboard.press('a');
    await code.fill(gate.person.code());
    await item.getByLabel('Reason (optional)').fill('planned maintenance');
    await item.getByRole('button', { name: 'Confirm approval' }).click();
    await item.waitFor({ state: 'detached' });
    await page.getByText('Approved: “install htop”.').waitFor();

    const decided = await gate.get(id);
    // A fresh code each time: the current step, the next one, then a recovery code.
    expect(decided.body.request).toMatchObject({ status: 'APPROVED', decision_reason: 'planned maintenance', approvals: [{ username: 'approver', step_up: expect.stringMatching(/^(totp|recovery_code)$/) }] });
  });

  it('needs a second person, in a second browser, for a CRITICAL request', async () => {
    const gate = await startGate('sqlite');
    const bob = await createPerson(gate.server.runtime, 'bob', 'approver');
    const alice = await browser.page();
    await logIn(alice, gate.url, gate.person);
    const id = (await gate.request({ command: 'shutdown -h now', deployment_env: 'dev', task_name: 'power off the box' })).body.request.request_id as string;
    const mine = card(alice, id);
    await mine.waitFor();
    expect(await mine.locator('.risk').textContent()).toContain('CRITICAL');
    expect(await mine.locator('.quorum').textContent()).toBe('0 of 2 approvals');

    await mine.getByRole('button', { name: 'Approve' }).click();
    await mine.getByLabel('Your TOTP code').fill(gate.person.code());
    await mine.getByRole('button', { name: 'Confirm approval' }).click();
    await mine.getByText('You approved this request. Waiting for 1 more person.').waitFor();
    expect(await mine.locator('.quorum').textContent()).toBe('1 of 2 approvals: approver');
    expect(await mine.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    // Bob, in a browser of his own (another context: his own cookie), on a phone.
    const phone = await browser.page(PHONE);
    await logIn(phone, gate.url, bob);
    const his = card(phone, id);
    await his.waitFor();
    expect(await his.locator('.quorum').textContent()).toBe('1 of 2 approvals: approver');
    await his.getByRole('button', { name: 'Approve' }).click();
    await his.getByLabel('Your TOTP code').fill(bob.code());
    await his.getByRole('button', { name: 'Confirm approval' }).click();
    await his.waitFor({ state: 'detached' });
    // Alice's inbox hears of it by itself.
    await mine.waitFor({ state: 'detached' });

    const decided = await gate.get(id);
    expect(decided.body.request).toMatchObject({ status: 'APPROVED', required_approvals: 2 });
    expect(decided.body.request.approvals.map((approval: { username: string }) => approval.username)).toEqual(['approver', 'bob']);

    // The request's history tells the whole story.
    await phone.goto(`${gate.url}/app/requests/${id}`);
    await phone.getByRole('heading', { level: 1, name: 'power off the box' }).waitFor();
    const timeline = await phone.locator('.timeline li .event-head strong').allTextContents();
    expect(timeline).toEqual(['Requested', 'Decision', 'Decision']);
    expect(await phone.locator('.timeline').textContent()).toContain('approved (2 of 2), with a TOTP code');
    // Nothing is wider than the phone.
    expect(await phone.evaluate(fitsWidth)).toBe(true);
  });

  it('verifies the audit chain with a progress bar, filters and pages events, and exports JSON lines', async () => {
    const gate = await startGate('sqlite');
    for (const word of ['one', 'two', 'three']) await gate.request({ command: `echo ${word}`, deployment_env: 'dev' });
    const page = await browser.page();
    await logIn(page, gate.url, gate.person);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    await page.getByText('never through the console').waitFor();

    await page.getByRole('button', { name: 'Verify the chain now' }).click();
    await page.locator('.chain .ok', { hasText: 'Chain intact' }).waitFor();
    const progress = page.locator('.chain progress');
    const [value, max] = await progress.evaluate((element: { value: number; max: number }) => [element.value, element.max]);
    expect(value).toBe(max);
    expect(max).toBeGreaterThan(3);
    expect(await page.locator('.chain').textContent()).toMatch(/by user:approver/);
    expect(await gate.auditActions()).toContain('audit.verified');

    // Filter by action, then page with a small page size.
    await page.getByLabel('Action').fill('approval.requested');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=approval\.requested/);
    await page.locator('table.audit tbody tr').first().waitFor();
    expect(await page.locator('table.audit tbody tr').count()).toBe(3);
    await page.getByLabel('Per page').selectOption('25');
    await page.getByLabel('Actor').fill('user:approver');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No events match.').waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export all events (JSONL)' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^airlock-audit-1-\d+\.jsonl$/);
    const path = await download.path();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { seq: number });
    expect(lines.map((line) => line.seq)).toEqual(lines.map((_, index) => index + 1));
  });

  it('creates an API key that is shown once, with a copy button, and that works', async () => {
    const gate = await startGate('sqlite');
    const admin = await createPerson(gate.server.runtime, 'root', 'admin');
    const page = await browser.page();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gate.url });
    await logIn(page, gate.url, admin);
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'New API key' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('deploy-bot');
    await page.getByLabel('approvals:decide').check();
    await page.getByLabel('Environments').fill('dev, stg');
    await page.getByRole('button', { name: 'Create key' }).click();

    const shown = page.getByRole('textbox', { name: 'API key deploy-bot' });
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^alk_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).navigator.clipboard.readText())).toBe(key);
    const row = page.locator('tr', { hasText: 'deploy-bot' });
    await row.waitFor();
    expect(await row.textContent()).toContain('env dev, stg');

    const whoami = await http('GET', `${gate.url}/v1/whoami`, { headers: bearer(key) });
    expect(whoami.body).toMatchObject({ name: 'deploy-bot', scopes: ['approvals:decide', 'approvals:read', 'approvals:request'], environments: ['dev', 'stg'] });

    // Shown once: after a reload it is nowhere on the page.
    await page.reload();
    await row.waitFor();
    expect(await page.content()).not.toContain(key);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Revoke deploy-bot' }).click();
    await row.getByText('revoked').waitFor();
    expect((await http('GET', `${gate.url}/v1/whoami`, { headers: bearer(key) })).status).toBe(401);
  });

  it('opens every page at desktop and phone width without a console error or a CSP violation', async () => {
    const gate = await startGate('sqlite');
    const admin = await createPerson(gate.server.runtime, 'root', 'admin');
    const id = (await gate.request({ command: 'systemctl restart nginx', deployment_env: 'dev', task_name: 'restart nginx' })).body.request.request_id as string;
    await gate.request({ command: 'echo done', deployment_env: 'dev' });
    const pages: ReadonlyArray<readonly [string, string]> = [
      ['/app/inbox', 'Inbox'],
      ['/app/requests', 'Requests'],
      [`/app/requests/${id}`, 'restart nginx'],
      ['/app/dashboard', 'Dashboard'],
      ['/app/audit', 'Audit'],
      ['/app/admin/users', 'Admin'],
      ['/app/admin/keys', 'Admin'],
      ['/app/admin/targets', 'Admin'],
      ['/app/admin/system', 'Admin'],
      ['/app/account', 'Account'],
      ['/app/no-such-page', 'Not found'],
    ];
    for (const options of [undefined, PHONE]) {
      const page = await browser.page(options);
      await logIn(page, gate.url, admin);
      for (const [path, title] of pages) {
        await page.goto(`${gate.url}${path}`);
        await page.getByRole('heading', { level: 1, name: title }).waitFor();
        await page.locator('.loading').first().waitFor({ state: 'detached' });
        expect(await page.evaluate(fitsWidth), `${path} fits`).toBe(true);
        // Every form control has a name a screen reader can say.
        type Control = { labels: { length: number } | null; getAttribute(name: string): string | null; outerHTML: string };
        const unnamed = await page
          .locator('input:not([type=hidden]), select, textarea')
          .evaluateAll((controls: Control[]) => controls.filter((control) => !control.labels?.length && !control.getAttribute('aria-label')).map((control) => control.outerHTML));
        expect(unnamed, path).toEqual([]);
      }
      await page.goto(`${gate.url}/app/admin/targets`);
      await page.getByRole('button', { name: 'Validate targets.yaml and policy.yaml' }).click();
      await page.getByText('Both files are valid.').waitFor();
      await page.goto(`${gate.url}/app/admin/system`);
      await page.getByText('healthy', { exact: true }).waitFor();
      await page.getByRole('region', { name: 'Webhooks' }).waitFor();
    }
  });
});
