import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('rate-limit, Redis, proxy and CORS settings', () => {
  it('default to limits on, in memory, no proxy trust and CORS off', () => {
    const result = loadConfig({ env: {}, cwd: tmpDir() });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.rateLimit).toEqual({ enabled: true, apiPerMinute: 200, authPerMinute: 60 });
    expect(result.config.redis).toEqual({ keyPrefix: 'airlock:rate-limit:' });
    expect(result.config.server.trustProxy).toBe(false);
    expect(result.config.cors).toEqual({ origins: [] });
  });

  it('come from AIRLOCK_* variables and the reference aliases', () => {
    const result = loadConfig({
      env: {
        API_RATE_LIMIT: '500',
        AUTH_RATE_LIMIT: '20',
        REDIS_URL: 'redis://:secret@cache:6379/2',
        AIRLOCK_TRUST_PROXY: 'true',
        AIRLOCK_RATE_LIMIT_ENABLED: 'false',
        AIRLOCK_CORS_ORIGINS: 'https://console.example.com, http://localhost:5173',
      },
      cwd: tmpDir(),
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.rateLimit).toEqual({ enabled: false, apiPerMinute: 500, authPerMinute: 20 });
    expect(result.config.redis.url).toBe('redis://:secret@cache:6379/2');
    expect(result.config.server.trustProxy).toBe(true);
    expect(result.config.cors.origins).toEqual(['https://console.example.com', 'http://localhost:5173']);
    expect(result.config.sources['rateLimit.apiPerMinute']).toBe('API_RATE_LIMIT');
    // The AIRLOCK_* name wins over the alias.
    const both = loadConfig({ env: { API_RATE_LIMIT: '500', AIRLOCK_API_RATE_LIMIT: '300' }, cwd: tmpDir() });
    expect(both.ok && both.config.rateLimit.apiPerMinute).toBe(300);
  });

  it('make `airlock config validate` exit 2 naming every bad value', async () => {
    const result = await runCli(['config', 'validate'], {
      cwd: tmpDir(),
      env: {
        AIRLOCK_API_RATE_LIMIT: '-5',
        AUTH_RATE_LIMIT: '0',
        AIRLOCK_CORS_ORIGINS: 'https://ok.example.com,https://console.example.com/app',
        AIRLOCK_REDIS_URL: 'http://cache:6379',
        AIRLOCK_TRUST_PROXY: 'maybe',
      },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('configuration has 5 problems:');
    expect(result.stderr).toContain('  - rateLimit.apiPerMinute: must be at least 1 (from AIRLOCK_API_RATE_LIMIT)');
    expect(result.stderr).toContain('  - rateLimit.authPerMinute: must be at least 1 (from AUTH_RATE_LIMIT)');
    expect(result.stderr).toContain('  - cors.origins.1: must be an origin such as https://console.example.com');
    expect(result.stderr).toContain('  - redis.url: must be a Redis URL such as redis://127.0.0.1:6379');
    expect(result.stderr).toContain('  - server.trustProxy: must be true or false (from AIRLOCK_TRUST_PROXY)');
  });

  it.each([['*'], ['https://*.example.com'], ['https://console.example.com/'], ['console.example.com'], ['ftp://files.example.com']])(
    'refuses the CORS origin %s',
    (origin) => {
      const result = loadConfig({ env: {}, flags: { cors: { origins: [origin] } }, cwd: tmpDir() });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems.join('\n')).toContain('cors.origins.0: must be an origin');
    },
  );

  it('make `airlock config validate` check that Redis answers, with the password masked', async () => {
    const ok = await runCli(['config', 'validate'], { cwd: tmpDir(), env: { AIRLOCK_REDIS_URL: 'redis://127.0.0.1:6379' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('rate-limit store: Redis redis://127.0.0.1:6379: reachable');
    const down = await runCli(['config', 'validate'], { cwd: tmpDir(), env: { AIRLOCK_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' } });
    expect(down.code).toBe(2);
    expect(down.stdout).toContain('rate-limit store: Redis redis://:***@127.0.0.1:1: UNREACHABLE');
    expect(down.stderr).toContain('  - redis: cannot reach the rate-limit store (Redis redis://:***@127.0.0.1:1)');
    expect(down.stdout + down.stderr).not.toContain('hunter2');
  });
});
