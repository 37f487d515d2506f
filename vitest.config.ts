import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Most test time is spent waiting on child processes, databases and fsync, so two files at a time
    // finish far sooner than one even on two cores (vitest would otherwise use cores - 1 = 1).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
