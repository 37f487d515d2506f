import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/** docs/OPERATIONS.md: its sections, the markers other sections are written at, and honest step marks. */
const text = readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8');
const sections = [...text.matchAll(/^## (.+)$/gm)].map((match) => match[1]);

/** The text of one `## ` section. */
function section(title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start, title).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe('docs/OPERATIONS.md', () => {
  it('has the sections an operator needs, in order', () => {
    expect(sections).toEqual(['Deploy', 'Configuration of roles and segments', 'Upgrade', 'Rollback', 'Rotate keys', 'Backup and restore', 'Reload config', 'Scaling out', 'Troubleshooting']);
  });

  it('covers rotation, backup and restore, reload and scaling, with the commands an operator runs', () => {
    expect(section('Rotate keys')).toMatch(/airlock keys rotate-signing[\s\S]*airlock keys rotate-audit/);
    expect(section('Backup and restore')).toMatch(/airlock backup --out[\s\S]*airlock restore --in[\s\S]*airlock incidents add/);
    expect(section('Reload config')).toMatch(/POST \/v1\/admin\/reload[\s\S]*SIGHUP|SIGHUP[\s\S]*POST \/v1\/admin\/reload/);
    expect(text).not.toMatch(/<!-- \w+ -->/);
  });

  it('marks every numbered step as tested or manual', () => {
    for (const title of ['Deploy', 'Upgrade']) {
      // A step: a numbered item and its indented continuation, up to the next item or heading.
      const steps = section(title).split(/\n(?=\d+\. |#)/).filter((chunk) => /^\d+\. /.test(chunk));
      expect(steps.length, title).toBeGreaterThanOrEqual(title === 'Deploy' ? 30 : 4);
      for (const step of steps) expect(step.replace(/\s+/g, ' '), step.slice(0, 80)).toMatch(/tested: test\/deploy\/[\w.-]+\.test\.ts|\(manual/);
    }
  });

  it('names only tests and deployment files that exist', () => {
    for (const match of text.replace(/\s+/g, ' ').matchAll(/tested: (test\/deploy\/[\w.-]+\.test\.ts)/g)) expect(existsSync(join(REPO_ROOT, match[1] as string)), match[1]).toBe(true);
    for (const match of text.matchAll(/`(deploy\/[\w./@-]+)`/g)) {
      const path = (match[1] as string).replace(/\/$/, '');
      // Made by the operator in a step (cp deploy/.env.example deploy/.env).
      if (path === 'deploy/.env') continue;
      expect(existsSync(join(REPO_ROOT, path)), path).toBe(true);
    }
  });
});
