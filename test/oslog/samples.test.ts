/**
 * `hitch explain --log` on every sample (test/oslog/samples/, provenance in its README): the
 * summary lists each attach and detach with the volume, server, duration and outcome that a
 * reader of the lines finds (`facts.ts`). Durations are the log's own: from the operation's first
 * line to its last step's end, to the millisecond, computed from the timestamps quoted there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogs, selectOperations } from '../../src/trace/oslog/index.ts';
import { PUBLIC_FACTS, SAMPLES, type Fact } from './facts.ts';

async function summary(file: string): Promise<Fact[]> {
  const r = await readLogs([join(SAMPLES, file)]);
  return selectOperations(r).map(({ summary: s }) => ({ kind: s.kind, volume: s.volume, server: s.server, outcome: s.outcome, durationMs: s.durationMs }));
}

describe('public samples', () => {
  it('open-iscsi list, 2019: a connect that failed on two dead portals (2 min each, exit 8)', async () => {
    expect(await summary('public/open-iscsi-2019-two-dead-portals.txt')).toEqual(PUBLIC_FACTS['public/open-iscsi-2019-two-dead-portals.txt']);
    const r = await readLogs([join(SAMPLES, 'public/open-iscsi-2019-two-dead-portals.txt')]);
    const d = selectOperations(r)[0]?.report.diagnosis ?? [];
    expect(d).toContain('login to 170.0.0.10:3260 timed out after 120 s (iscsiadm exit 8)');
    expect(d).toContain('login to 170.0.0.11:3260 timed out (iscsiadm exit 8)');
    expect(d.some((l) => l.startsWith('the attach waited for the dead portal 170.0.0.10:3260: 120 s'))).toBe(true);
  });

  it('conjure-up #884, 2017: a failed attach, its traceback placed by the instance alone', async () => {
    expect(await summary('public/conjure-up-884-failed-attach.txt')).toEqual(PUBLIC_FACTS['public/conjure-up-884-failed-attach.txt']);
    const r = await readLogs([join(SAMPLES, 'public/conjure-up-884-failed-attach.txt')]);
    expect(selectOperations(r)[0]?.summary.error).toBe("Failed to attach 9036101a-8833-448f-8cdf-21ff1bc7dd76 at /dev/vdb: TypeError: Argument must be bytes or unicode, got 'NoneType'");
    // The RPC server's traceback line carries neither request nor instance: about other work.
    expect(r.lines).toEqual({ total: 14, placed: 13, unplaced: 0, other: 1 });
  });

  it('vexxhost/atmosphere #547, 2023: INFO-level attaches and detaches, none seen to its end', async () => {
    expect(await summary('public/vexxhost-atmosphere-547-nova-attach-detach.txt')).toEqual(PUBLIC_FACTS['public/vexxhost-atmosphere-547-nova-attach-detach.txt']);
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
