import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll } from 'vitest';
import type { Person } from './identity.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it), or AIRLOCK_CHROMIUM. */
export const CHROMIUM = process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium';

/** Arguments for a quiet, headless Chromium in a container (no sandbox: CI runs as root). */
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'];

/** A phone: what approvers decide from. */
export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 } };

interface Violation {
  readonly violatedDirective: string;
  readonly blockedURI: string;
  readonly sourceFile: string;
  readonly lineNumber: number;
}

/**
 * What code run inside the page (page.evaluate, addInitScript) uses of the browser's globals: the tests
 * are type-checked with Node's types, not the DOM's, so they name the little they touch here.
 */
export interface PageGlobals {
  readonly document: {
    readonly activeElement: { getAttribute(name: string): string | null; blur(): void } | null;
    readonly documentElement: { readonly scrollWidth: number };
    addEventListener(type: 'securitypolicyviolation', listener: (event: Violation) => void): void;
    querySelectorAll(selector: string): Iterable<{ remove(): void }>;
  };
  readonly innerWidth: number;
  readonly navigator: { readonly clipboard: { readText(): Promise<string> } };
  sameDocument?: boolean;
}

/** Reports every CSP violation to the console, where the page listener below collects it. */
function reportViolations(): void {
  (globalThis as unknown as PageGlobals).document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber})`);
  });
}

/** In the page: nothing is wider than the window (no sideways scrolling on a phone). */
export function fitsWidth(): boolean {
  const page = globalThis as unknown as PageGlobals;
  return page.document.documentElement.scrollWidth <= page.innerWidth;
}

/**
 * One Chromium per test file, closed when the file ends. Every page of every context it opens is
 * watched: console errors, uncaught exceptions and CSP violations land in `problems`, which a test
 * expects to stay empty.
 */
export class TestBrowser {
  readonly problems: string[] = [];

  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<TestBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set AIRLOCK_CHROMIUM)`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    const launched = new TestBrowser(browser);
    afterAll(() => launched.close());
    return launched;
  }

  /** A fresh context (its own cookies: a second person), DESKTOP unless told otherwise. */
  async context(options: BrowserContextOptions = DESKTOP): Promise<BrowserContext> {
    const context = await this.browser.newContext({ ...options, locale: 'en-GB', timezoneId: 'UTC', acceptDownloads: true });
    await context.addInitScript(reportViolations);
    context.on('page', (page) => this.watch(page));
    return context;
  }

  /** A page in a fresh context. */
  async page(options: BrowserContextOptions = DESKTOP): Promise<Page> {
    return (await this.context(options)).newPage();
  }

  private watch(page: Page): void {
    page.on('console', (message) => {
      if (message.type() === 'error' || /content security policy/i.test(message.text())) this.problems.push(`${page.url()}: console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => this.problems.push(`${page.url()}: uncaught ${error.message}`));
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}

/** Opens the console and logs in with password and, for people with TOTP, a fresh code; waits for the first page. */
export async function logIn(page: Page, url: string, person: Pick<Person, 'username' | 'password'> & { code?: () => string }, landing = 'Inbox'): Promise<void> {
  await page.goto(`${url}/app/`);
  await page.getByLabel('Username').fill(person.username);
  await page.getByLabel('Password').fill(person.password);
  if (person.code) await page.getByLabel('TOTP code').fill(person.code());
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: landing }).waitFor();
}

/** The card of a request in the inbox. */
export function card(page: Page, requestId: string) {
  return page.locator(`article[data-request-id="${requestId}"]`);
}
