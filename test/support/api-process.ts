/**
 * One API process for tests that need several on one database: identity and block storage
 * (`buildApp`) on the database URL given as the first argument, on a free loopback port. It
 * prints `listening URL` once it serves, and closes on SIGTERM. Its token cache is its own:
 * nothing but the database joins two of these.
 */
import { buildApp } from '../../src/test-support/build-app.ts';

const dbUrl = process.argv[2];
if (!dbUrl) throw new Error('usage: api-process.ts DATABASE_URL');
const t = await buildApp({ dbUrl });
const url = await t.listen();
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => {
  void t.close().then(() => process.exit(0));
});
