/**
 * Loop a test suite over every database dialect: SQLite (a file in a temp dir) and PostgreSQL
 * (a throwaway cluster). `describeEachDialect('volumes', (ctx) => { … })` registers one
 * describe block per dialect; `ctx.open()` gives a fresh, migrated database for a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { openDatabase, type DialectName, type HitchDb } from '../db/open-database.ts';
import { findPgBin, peerRequired, startPostgres, type PgCluster } from './postgres.ts';

export interface DialectContext {
  readonly dialect: DialectName;
  /** A fresh, empty, migrated database; closed after the suite. */
  open(): Promise<HitchDb>;
  /** URL of a fresh database (for building whole apps). */
  freshUrl(): Promise<string>;
}

export function describeEachDialect(name: string, body: (ctx: DialectContext) => void): void {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const missing = dialect === 'postgres' && !findPgBin() && !process.env.HITCH_TEST_PG_URL;
    const d = missing && !peerRequired() ? describe.skip : describe;
    if (missing && !peerRequired()) {
      console.warn(`[hitch] skipping ${name} on postgres: PostgreSQL not installed (scripts/install-test-peers.sh)`);
    }
    d(`${name} [${dialect}]`, () => {
      let cluster: PgCluster | undefined;
      let dir: string | undefined;
      const opened: HitchDb[] = [];
      let n = 0;
      beforeAll(async () => {
        if (dialect === 'postgres') cluster = await startPostgres();
        else dir = mkdtempSync(join(tmpdir(), 'hitch-sqlite-'));
      });
      afterAll(async () => {
        await Promise.all(opened.map((h) => h.close()));
        await cluster?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });
      const freshUrl = async (): Promise<string> => {
        if (dialect === 'postgres') {
          if (!cluster) throw new Error('PostgreSQL cluster did not start');
          return cluster.createDatabase();
        }
        return `sqlite:${join(dir ?? tmpdir(), `db-${n++}.sqlite`)}`;
      };
      body({
        dialect,
        freshUrl,
        async open() {
          const h = await openDatabase(await freshUrl());
          opened.push(h);
          return h;
        },
      });
    });
  }
}
