import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('airlock.example.yaml', () => {
  it('is a valid configuration that states the defaults', () => {
    const cwd = tmpDir();
    copyFileSync(join(REPO_ROOT, 'airlock.example.yaml'), join(cwd, 'airlock.yaml'));
    const fromFile = loadConfig({ env: {}, cwd });
    const defaults = loadConfig({ env: {}, cwd: tmpDir() });
    expect(fromFile.ok && defaults.ok).toBe(true);
    if (!fromFile.ok || !defaults.ok) return;
    expect(fromFile.config.configFile).toBe(join(cwd, 'airlock.yaml'));
    const { configFile: _a, paths: _b, store: _c, sources: _d, ...settings } = fromFile.config;
    const { configFile: _e, paths: _f, store: _g, sources: _h, ...defaultSettings } = defaults.config;
    expect(settings).toEqual(defaultSettings);
  });
});
