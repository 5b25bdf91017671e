/**
 * `hitch db init`: PostgreSQL's role, database and schema for a scale-out cloud, once, before
 * the first `hitch api` (`src/server/db-init.ts`, loaded when the command runs).
 */
import { Option, type Command } from 'commander';
import { HitchError } from '../../errors.ts';
import type { CliContext } from '../context.ts';

export function registerDbCommands(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('the database of a scale-out cloud (PostgreSQL)');
  db.command('init')
    .description("create Hitch's PostgreSQL role and database (as the superuser) and its schema; safe to run again")
    .addOption(new Option('--database-url <url>', 'what the servers will use: postgres://ROLE:PASSWORD@HOST:PORT/DATABASE (HITCH_DATABASE_URL)'))
    .addOption(new Option('--admin-url <url>', 'a superuser on the same server (default postgres://postgres@HOST:PORT/postgres)'))
    .option('--print-sql', 'print the SQL a superuser runs instead (e.g. sudo -u postgres psql), and change nothing')
    .action(async (o: { databaseUrl?: string; adminUrl?: string; printSql?: boolean }) => {
      const url = o.databaseUrl ?? ctx.io.env['HITCH_DATABASE_URL'];
      if (!url || !/^postgres(ql)?:\/\//.test(url)) {
        throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'give --database-url postgres://ROLE:PASSWORD@HOST:PORT/DATABASE: the role and database to create' });
      }
      const { defaultAdminUrl, maskUrl, setupSql } = await import('../../db/postgres-setup.ts');
      if (o.printSql) {
        ctx.io.out(setupSql(url).join('\n'));
        ctx.io.out(`-- then: hitch db init --database-url ${maskUrl(url)}   (creates the schema as that role)`);
        return;
      }
      const adminUrl = o.adminUrl ?? defaultAdminUrl(url);
      const { initDatabase } = await import('../../server/db-init.ts');
      const r = await initDatabase({ databaseUrl: url, adminUrl });
      const made = [r.createdRole ? 'created the role' : 'the role was there', r.createdDatabase ? 'created the database' : 'the database was there'];
      ctx.io.out(`${r.url}: ${made.join(', ')}; schema up to date`);
      ctx.io.out(`next: hitch api --database-url ${r.url} …   and one hitch agent --host NAME per compute host`);
    });
}
