/**
 * `hitch explain --log` as an operator runs it: several files (one gzip), the summary slowest
 * first, a filter for the full report, JSON, `--verbose` for the lines it could not place, the
 * log on standard input, and one-line errors for what cannot be read or matched.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT } from '../cli/support.ts';

const PUB = join(ROOT, 'test/oslog/samples/public');
const ISCSI = join(PUB, 'open-iscsi-2019-two-dead-portals.txt');
const CONJURE = join(PUB, 'conjure-up-884-failed-attach.txt');
const ATMOS = join(PUB, 'vexxhost-atmosphere-547-nova-attach-detach.txt');

let dir: string;
let gz: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hitch-oslog-'));
  // Named like a plain log: gzip is told by its bytes, not its name.
  gz = join(dir, 'nova-compute.log.1');
  writeFileSync(gz, gzipSync(readFileSync(ISCSI)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hitch explain --log', () => {
  it('lists every attach and detach of several files, gzip among them, slowest first', async () => {
    const r = await cli(['explain', '--log', gz, CONJURE, ATMOS]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`6 attaches and detaches in ${gz}, ${CONJURE}, ${ATMOS} (28 lines: 24 in them, 1 about other work, 3 unplaced (--verbose lists them))`);
    expect(lines[2]).toMatch(/^DURATION +KIND +OUTCOME +VOLUME +SERVER +START +REQUEST$/);
    const rows = lines.slice(3, 9);
    expect(rows.map((l) => l.trim().split(/\s{2,}/).slice(0, 3))).toEqual([
      ['120 s', 'attach', 'failed'],
      ['714 ms', 'attach', 'failed'],
      ['78 ms', 'detach', 'incomplete'],
      ['0 ms', 'attach', 'incomplete'],
      ['0 ms', 'attach', 'incomplete'],
      ['0 ms', 'detach', 'incomplete'],
    ]);
    expect(rows[1]).toContain('9036101a-8833-448f-8cdf-21ff1bc7dd76  1a8a00fb-94b6-4109-ae58-f44291626a46  2017-05-12 08:31:26.623  req-ddcb2287-8fe9-4287-886d-4e23796d586e');
  });

  it('with a filter, prints each matching operation’s waterfall, critical path and diagnosis', async () => {
    const r = await cli(['explain', '--log', ISCSI, '--server', '15c064ca', '--depth', '3']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('attach of volume (unknown) to server 15c064ca-8bd0-40be-b384-c796db1da953: failed, 120 s (120334 ms: 2019-10-07 16:09:52.456 to 16:11:52.790) (req-1f65b818-108d-41cb-9ea1-ca18761a673f)');
    expect(r.out).toMatch(/\n {2}connect_path 170\.0\.0\.10:3260 +\|x+\| +\+2 ms +120 s {2}FAILED\n/);
    expect(r.out).toContain('critical path:\n  connect-volume (120 s)\n    connect_path 170.0.0.10:3260 (120 s)');
    expect(r.out).toContain('  - login to 170.0.0.10:3260 timed out after 120 s (iscsiadm exit 8)');
    const j = JSON.parse((await cli(['explain', '--log', ISCSI, '--request-id', 'req-1f65b818-108d-41cb-9ea1-ca18761a673f', '--json'])).out);
    expect(j.operations).toHaveLength(1);
    expect(j.operations[0]).toMatchObject({ kind: 'attach', outcome: 'failed', durationMs: 120334 });
    expect(j.operations[0].report.criticalPath[0]).toBe('connect-volume (120 s)');
  });

  it('filters by time on the log’s own clock', async () => {
    const r = await cli(['explain', '--log', ATMOS, '--since', '2023-08-18 14:54', '--until', '2023-08-18T14:55:00', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).operations.map((o: { start: string }) => o.start)).toEqual(['2023-08-18 14:54:40.796']);
  });

  it('lists the unplaced lines with --verbose, with their file and line', async () => {
    const r = await cli(['explain', '--log', ATMOS, '--verbose']);
    expect(r.code, r.err).toBe(0);
    const i = r.out.split('\n').indexOf('unplaced lines (3):');
    expect(i).toBeGreaterThan(0);
    expect(r.out.split('\n').slice(i + 1).map((l) => l.split(': ')[0])).toEqual([`  ${ATMOS}:4`, `  ${ATMOS}:5`, `  ${ATMOS}:7`]);
  });

  it('reads the log from standard input', async () => {
    const out = await new Promise<{ code: number; out: string }>((res) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/hitch.js'), 'explain', '--log', '-', '--json'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      let o = '';
      child.stdout.on('data', (d) => (o += String(d)));
      child.once('exit', (code) => res({ code: code ?? -1, out: o }));
      child.stdin.end(gzipSync(readFileSync(CONJURE)));
    });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.out)).toMatchObject({ sources: ['-'], lines: { total: 14 }, operations: [{ volume: '9036101a-8833-448f-8cdf-21ff1bc7dd76', outcome: 'failed' }] });
  });

  it('ends quietly when its reader has gone (| head): no EPIPE crash', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((res) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/hitch.js'), 'explain', '--log', ISCSI, '--server', '15c064ca'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      // The read end closes before the child has started, so its first write meets a closed pipe.
      child.stdout.destroy();
      let err = '';
      child.stderr.on('data', (d) => (err += String(d)));
      child.once('exit', (code) => res({ code, err }));
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('fails in one line, with a code, on what it cannot read or match', async () => {
    const missing = await cli(['explain', '--log', join(dir, 'nope.log')]);
    expect([missing.code, missing.err]).toEqual([1, `hitch: HITCH_LOG_UNREADABLE: Cannot read the log ${join(dir, 'nope.log')}: ENOENT. Give a readable file (plain or gzip), or - to read standard input.`]);
    const none = await cli(['explain', '--log', ISCSI, '--volume', 'ffff']);
    expect(none.code).toBe(1);
    expect(none.err).toBe(`hitch: HITCH_LOG_NO_MATCH: No attach or detach in ${ISCSI} matches --volume ffff. Run \`hitch explain --log FILE\` without a filter to list every attach and detach the log holds.`);
    const both = await cli(['explain', 'demo-server', '--log', ISCSI]);
    expect(both.err).toMatch(/^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: explain --log takes files/);
    const stray = await cli(['explain', 'demo-server', 'demo-volume', '--request-id', 'req-x']);
    expect(stray.err).toMatch(/^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: --request-id goes with --log\. /);
    const time = await cli(['explain', '--log', ISCSI, '--since', 'yesterday']);
    expect(time.err).toMatch(/^hitch: HITCH_INVALID_ARGUMENT: Invalid argument: cannot read the time "yesterday"/);
  });
});
