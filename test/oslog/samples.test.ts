/**
 * `hitch explain --log` on every sample (test/oslog/samples/, provenance in its README): the
 * summary lists each attach and detach with the volume, server, duration and outcome that a
 * reader of the lines finds. Durations are the log's own: from the operation's first line to its
 * last step's end, to the millisecond, computed here from the timestamps the comment quotes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogs, selectOperations, type LogOperationSummary } from '../../src/trace/oslog/index.ts';
import { ROOT } from '../cli/support.ts';

const SAMPLES = join(ROOT, 'test/oslog/samples');
const at = (t: string): number => Date.parse(`${t.replace(' ', 'T')}Z`);
const between = (a: string, b: string): number => at(b) - at(a);

type Fact = Pick<LogOperationSummary, 'kind' | 'volume' | 'server' | 'outcome' | 'durationMs'>;

async function summary(file: string): Promise<Fact[]> {
  const r = await readLogs([join(SAMPLES, file)]);
  return selectOperations(r).map(({ summary: s }) => ({ kind: s.kind, volume: s.volume, server: s.server, outcome: s.outcome, durationMs: s.durationMs }));
}

describe('public samples', () => {
  it('open-iscsi list, 2019: a connect that failed on two dead portals (2 min each, exit 8)', async () => {
    expect(await summary('public/open-iscsi-2019-two-dead-portals.txt')).toEqual([
      // first line (the first portal's failed login) to the last (Nova's "Failed to resume instance")
      { kind: 'attach', volume: null, server: '15c064ca-8bd0-40be-b384-c796db1da953', outcome: 'failed', durationMs: between('2019-10-07 16:09:52.456', '2019-10-07 16:11:52.790') },
    ]);
    const r = await readLogs([join(SAMPLES, 'public/open-iscsi-2019-two-dead-portals.txt')]);
    const d = selectOperations(r)[0]?.report.diagnosis ?? [];
    expect(d).toContain('login to 170.0.0.10:3260 timed out after 120 s (iscsiadm exit 8)');
    expect(d).toContain('login to 170.0.0.11:3260 timed out (iscsiadm exit 8)');
    expect(d.some((l) => l.startsWith('the attach waited for the dead portal 170.0.0.10:3260: 120 s'))).toBe(true);
  });

  it('conjure-up #884, 2017: a failed attach, its traceback placed by the instance alone', async () => {
    expect(await summary('public/conjure-up-884-failed-attach.txt')).toEqual([
      { kind: 'attach', volume: '9036101a-8833-448f-8cdf-21ff1bc7dd76', server: '1a8a00fb-94b6-4109-ae58-f44291626a46', outcome: 'failed', durationMs: between('2017-05-12 08:31:26.623', '2017-05-12 08:31:27.337') },
    ]);
    const r = await readLogs([join(SAMPLES, 'public/conjure-up-884-failed-attach.txt')]);
    expect(selectOperations(r)[0]?.summary.error).toBe("Failed to attach 9036101a-8833-448f-8cdf-21ff1bc7dd76 at /dev/vdb: TypeError: Argument must be bytes or unicode, got 'NoneType'");
    // The RPC server's traceback line carries neither request nor instance: about other work.
    expect(r.lines).toEqual({ total: 14, placed: 13, unplaced: 0, other: 1 });
  });

  it('vexxhost/atmosphere #547, 2023: INFO-level attaches and detaches, none seen to its end', async () => {
    const vol1 = '16409427-718d-47c2-a224-dcae611c9e34';
    const vol2 = 'c2e52f3d-4e43-4692-8c3c-a64f611baed5';
    const server = 'b6d86451-8ad3-4224-ac3a-b23e146f3e64';
    expect(await summary('public/vexxhost-atmosphere-547-nova-attach-detach.txt')).toEqual([
      { kind: 'detach', volume: vol1, server, outcome: 'incomplete', durationMs: between('2023-08-18 14:27:06.197', '2023-08-18 14:27:06.275') },
      { kind: 'attach', volume: vol2, server, outcome: 'incomplete', durationMs: 0 },
      { kind: 'attach', volume: vol2, server, outcome: 'incomplete', durationMs: 0 },
      { kind: 'detach', volume: vol2, server, outcome: 'incomplete', durationMs: 0 },
    ]);
    // Two requests show only libvirt's detach lines, without their start: about volumes, unplaced.
    const r = await readLogs([join(SAMPLES, 'public/vexxhost-atmosphere-547-nova-attach-detach.txt')]);
    expect(r.unplaced.map((u) => u.lineNo)).toEqual([4, 5, 7]);
  });

  it('every sample line is one of the files’ own: nothing is counted twice or lost', async () => {
    for (const f of ['public/open-iscsi-2019-two-dead-portals.txt', 'public/conjure-up-884-failed-attach.txt', 'public/vexxhost-atmosphere-547-nova-attach-detach.txt']) {
      const r = await readLogs([join(SAMPLES, f)]);
      const lines = readFileSync(join(SAMPLES, f), 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== '').length;
      expect(r.lines.total, f).toBe(lines);
      expect(r.lines.placed + r.lines.unplaced + r.lines.other, f).toBe(lines);
    }
  });
});
