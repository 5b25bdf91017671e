/**
 * vitest globalSetup: one PostgreSQL cluster for the whole run, shared through
 * `HITCH_TEST_PG_URL`. Optional — without it each test file starts its own cluster.
 * Add to vitest.config.ts: `globalSetup: ['src/test-support/pg-global-setup.ts']`.
 */
import { findPgBin, startPostgres } from './postgres.ts';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.HITCH_TEST_PG_URL || !findPgBin()) return undefined;
  const cluster = await startPostgres();
  process.env.HITCH_TEST_PG_URL = cluster.url;
  return async () => {
    delete process.env.HITCH_TEST_PG_URL;
    await cluster.stop();
  };
}
