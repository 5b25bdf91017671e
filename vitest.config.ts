import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: keep the pool small so real peers (PostgreSQL, tgtd, QEMU) are not starved.
    pool: 'forks',
    // One PostgreSQL cluster for the whole run (each file makes its own databases in it).
    globalSetup: ['src/test-support/pg-global-setup.ts'],
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
