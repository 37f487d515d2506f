import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { TestBrowser } from '../helpers/browser.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

/** The site's policy (src/http/security.ts), which every route but /docs sends unchanged. */
const SITE_CSP = "default-src 'self';base-uri 'self';form-action 'self';frame-ancestors 'none';object-src 'none'";

/**
 * The API reference at /docs (Swagger UI) in a real browser (Debian's Chromium through playwright-core):
 * it renders the document's operations under the site's Content-Security-Policy, relaxed for /docs
 * only by data: images, with no console error, uncaught exception or CSP violation.
 */
describe('the API reference page at /docs', () => {
  let browser: TestBrowser;
  let server: RunningServer;
  beforeAll(async () => {
    [browser, server] = await Promise.all([TestBrowser.launch(), startTestServer()]);
  });
  afterEach(() => {
    expect(browser.problems.splice(0)).toEqual([]);
  });

  it('lists the operations of the document, grouped by domain, with nothing blocked by the CSP', async () => {
    const page = await browser.page();
    const loaded = await page.goto(`${server.url}/docs`);
    expect(loaded?.status()).toBe(200);
    await page.locator('.opblock-summary-path', { hasText: /^\/v1\/approvals$/ }).first().waitFor();
    await page.getByRole('heading', { name: /Airlock API/ }).waitFor();
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    expect(paths).toEqual(expect.arrayContaining(['/v1/approvals', '/approvals/request', '/v1/execute', '/openapi.json']));
    const tags = await page.locator('.opblock-tag').allTextContents();
    expect(tags.some((tag) => tag.startsWith('approvals'))).toBe(true);
    expect(tags.some((tag) => tag.startsWith('reference-compatible'))).toBe(true);

    // An operation opens with its scope and its request body, and the Authorize dialog lists the bearer scheme.
    await page.locator('.opblock-summary-path', { hasText: /^\/v1\/approvals$/ }).first().click();
    const operation = page.locator('.opblock.is-open').first();
    await operation.getByText('approvals:request').first().waitFor();
    await operation.getByText('deployment_env').first().waitFor();
    await page.getByRole('button', { name: /Authorize/ }).first().click();
    await page.getByRole('heading', { name: /bearer/ }).first().waitFor();
    await page.context().close();
  });

  it('relaxes the policy on /docs only by data: images, never for scripts', async () => {
    const docs = await http('GET', `${server.url}/docs`);
    expect(docs.headers['content-security-policy']).toBe(`${SITE_CSP};img-src 'self' data:`);
    const bundle = await http('GET', `${server.url}/docs/static/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-security-policy']).toBe(`${SITE_CSP};img-src 'self' data:`);
    for (const path of ['/openapi.json', '/health', '/app/', '/v1/nothing-here', '/docsx']) {
      const response = await http('GET', `${server.url}${path}`);
      expect(response.headers['content-security-policy'], path).toBe(SITE_CSP);
    }
    expect(docs.text).not.toMatch(/<script>(?!\s*<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
