/**
 * `hitch explain --log` on os-brick 6.1's own debug log, recorded in the storage host guest
 * (test/oslog/recorder/, samples in test/oslog/samples/guest/ with what os-brick returned).
 *
 * The seed's failure first — one portal dropped, open-iscsi's default login timeouts, no
 * multipath map: the summary's total is the log's own, to the millisecond, and the report names
 * the dead portal and its timeout, says that the attach waited for it, finds the single-path
 * fallback, and puts the floor beside it. Then every other recording against what os-brick
 * returned (the `.result.json` beside each log).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogs, selectOperations, type LogOperation } from '../../src/trace/oslog/index.ts';
import { cli } from '../cli/support.ts';
import { GUEST, guestResult as result, ownTimes, type CallResult } from './facts.ts';
import { VOLUMES } from './recorder/cases.guest.ts';

async function operations(name: string): Promise<LogOperation[]> {
  return selectOperations(await readLogs([join(GUEST, `${name}.txt`)]));
}

describe('the seed’s failure, recorded with os-brick 6.1 in the storage host guest', () => {
  const seed = result('seed')['seed'] as CallResult;

  it('is one attach, its total the log’s own to the millisecond', async () => {
    const ops = await operations('seed');
    expect(ops.map((o) => o.summary)).toMatchObject([{ kind: 'attach', volume: VOLUMES.seed, server: null, outcome: 'ok', requestId: seed.request_id }]);
    const own = ownTimes('seed', seed.request_id);
    expect(own.ms).toBeGreaterThan(120_000);
    expect(ops[0]?.summary.start).toBe(own.first);
    expect(ops[0]?.summary.durationMs).toBe(own.ms);
    expect(ops[0]?.report.totalMs).toBe(own.ms);
  });

  it('names the dead portal and its timeout, the wait for it, the missing map, the single path and the floor', async () => {
    const [op] = await operations('seed');
    const d = op?.report.diagnosis ?? [];
    expect(d[0]).toMatch(/^login to 127\.0\.0\.2:3260 timed out after 12\d s \(iscsiadm exit 8\); the volume was usable at \d+ s through 127\.0\.0\.1:3260, the attach returned at 16\d s$/);
    expect(d).toContainEqual(expect.stringMatching(/^the attach waited for the dead portal 127\.0\.0\.2:3260: 12\d s of the 16\d s \(\d+%\)$/));
    expect(d).toContainEqual(`multipathd did not create a map for WWN ${seed.device?.scsi_wwn} (waited 11 s); fell back to single path ${seed.device?.path}`);
    const floor = d.find((l) => l.startsWith('Hitch would have taken about '));
    expect(floor).toMatch(/^Hitch would have taken about [\d.]+ s for the same data plane: the floor from this log's own timings \(login to 127\.0\.0\.1:3260 [\d.]+ (m?s) \+ device [\d.]+ (m?s)\); this attach took 16\d s, \d+× the floor$/);
    // The dead login's own measure, as processutils logged it, is the failed row's.
    const log = readFileSync(join(GUEST, 'seed.txt'), 'utf8');
    const took = Number(/--login" returned: 8 in ([\d.]+)s/.exec(log)?.[1]);
    const row = op?.report.rows.find((r) => r.label === 'exec iscsiadm -m node -p 127.0.0.2:3260 --login');
    expect(row).toMatchObject({ outcome: 'error', critical: true });
    expect(Math.abs((row?.durationMs ?? 0) - took * 1000)).toBeLessThan(100);
  });

  it('prints the same through the CLI, with the waterfall and the critical path through the dead portal', async () => {
    const r = await cli(['explain', '--log', join(GUEST, 'seed.txt'), '--volume', VOLUMES.seed.slice(0, 8)]);
    expect(r.code, r.err).toBe(0);
    // The total to the millisecond, both ends as the log's own lines carry them.
    const own = ownTimes('seed', seed.request_id);
    expect(r.out.split('\n')[0]).toBe(`attach of volume ${VOLUMES.seed}: ok, ${r.out.match(/total (\d+ s)/)?.[1]} (${own.ms} ms: ${own.first} to ${own.last.slice(11)}) (${seed.request_id}) in ${join(GUEST, 'seed.txt')}`);
    expect(r.out).toMatch(/\n {2}connect_path 127\.0\.0\.2:3260 +\|x+ *\| +\+\d+ ms +1\d\d s {2}FAILED\n/);
    expect(r.out).toMatch(/critical path:\n {2}connect-volume \/dev\/sd[a-z] \(16\d s\)\n(?: {4}.*\n)*? {4}connect_path 127\.0\.0\.2:3260 \(1\d\d s\)\n/);
    expect(r.out).toContain('  - the attach waited for the dead portal 127.0.0.2:3260');
  });
});

describe('the other recordings', () => {
  it('a healthy multipath attach, then its detach', async () => {
    const res = result('healthy-multipath');
    const ops = await operations('healthy-multipath');
    const attach = res['healthy'] as CallResult;
    const detach = res['healthy:disconnect'] as CallResult;
    expect(ops.map((o) => ({ ...o.summary }))).toMatchObject([
      { kind: 'attach', volume: VOLUMES.healthy, outcome: 'ok', requestId: attach.request_id, durationMs: ownTimes('healthy-multipath', attach.request_id).ms },
      { kind: 'detach', volume: VOLUMES.healthy, outcome: 'ok', requestId: detach.request_id, durationMs: ownTimes('healthy-multipath', detach.request_id).ms },
    ]);
    expect(attach.device?.multipath_id).toBeTruthy();
    const a = ops[0]?.report;
    expect(a?.rows.filter((r) => r.name === 'connect_path').map((r) => [r.label, r.outcome])).toEqual(
      expect.arrayContaining([
        ['connect_path 127.0.0.1:3260', 'ok'],
        ['connect_path 127.0.0.2:3260', 'ok'],
      ]),
    );
    expect(a?.diagnosis.join('\n')).not.toMatch(/did not create a map|dead portal|timed out/);
    expect(ops[1]?.report.rows.some((r) => r.label.startsWith('exec multipath -f'))).toBe(true);
  });

  it('a map never created: both paths up, os-brick falls back to one disk after its 10-second wait', async () => {
    const call = result('map-never-created')['no-map'] as CallResult;
    const [op] = await operations('map-never-created');
    expect(op?.summary).toMatchObject({ kind: 'attach', volume: VOLUMES.noMap, outcome: 'ok', durationMs: ownTimes('map-never-created', call.request_id).ms });
    expect(op?.report.diagnosis).toContainEqual(`multipathd did not create a map for WWN ${call.device?.scsi_wwn} (waited 10 s); fell back to single path ${call.device?.path}`);
    expect(op?.report.diagnosis.join('\n')).not.toMatch(/dead portal|timed out/);
  });

  it('a lock wait: the second attach waited for the first on os-brick’s host-wide lock', async () => {
    const res = result('lock-wait');
    const first = res['first'] as CallResult;
    const second = res['second'] as CallResult;
    const ops = await operations('lock-wait');
    const byVolume = new Map(ops.map((o) => [o.summary.volume, o]));
    expect(byVolume.get(VOLUMES.lockFirst)?.summary).toMatchObject({ outcome: 'ok', requestId: first.request_id, durationMs: ownTimes('lock-wait', first.request_id).ms });
    expect(byVolume.get(VOLUMES.lockSecond)?.summary).toMatchObject({ outcome: 'ok', requestId: second.request_id, durationMs: ownTimes('lock-wait', second.request_id).ms });
    expect(byVolume.get(VOLUMES.lockSecond)?.report.diagnosis).toContainEqual(
      expect.stringMatching(new RegExp(`^waited \\d+ s \\(\\d+%\\) for os-brick's host-wide connect_volume lock, held by the attach of volume ${VOLUMES.lockFirst} \\(${first.request_id}\\)$`)),
    );
    expect(byVolume.get(VOLUMES.lockFirst)?.report.diagnosis.join('\n')).not.toContain('connect_volume lock');
    // Each command the privsep daemon ran (no request id) went to the attach holding the lock then.
    for (const o of ops) for (const r of o.report.rows) if (r.name === 'exec iscsiadm' && r.label.includes(' -p ')) expect(o.report.rows.find((x) => x.id === r.parentId)?.name).toBe('connect_path');
  });

  it('a failed attach: every login times out, os-brick retries, rolls back and raises', async () => {
    const call = result('failed-attach')['failed'] as CallResult;
    expect(call.ok).toBe(false);
    const [op] = await operations('failed-attach');
    expect(op?.summary).toMatchObject({ kind: 'attach', volume: VOLUMES.failed, outcome: 'failed', durationMs: ownTimes('failed-attach', call.request_id).ms });
    expect(op?.summary.error).toBe("connect_volume raised VolumeDeviceNotFound('Volume device not found at .')");
    const d = op?.report.diagnosis ?? [];
    for (const p of ['127.0.0.1:3260', '127.0.0.2:3260']) expect(d).toContainEqual(expect.stringMatching(new RegExp(`^login to ${p.replace(/\./g, '\\.')} timed out 3 times, after .* \\(iscsiadm exit 8\\)$`)));
    expect(d).toContain('os-brick rolled the connect back: logged out of and deleted the node records of 127.0.0.1:3260, 127.0.0.2:3260 (' + (d.find((l) => l.startsWith('os-brick rolled'))?.split('(')[1] ?? ''));
    expect(d).toContain('no floor: no portal gave a usable path, so no attach could have been quick on this data plane');
  });

  it('places every line of every recording', async () => {
    const r = await readLogs(['healthy-multipath', 'seed', 'map-never-created', 'lock-wait', 'failed-attach'].map((n) => join(GUEST, `${n}.txt`)));
    expect(r.lines.unplaced).toBe(0);
    // Each file's first lines (before any call: os-brick probing iscsiadm, the connector factory) are about other work.
    expect(r.lines.other).toBe(15);
    expect(r.operations).toHaveLength(7);
  });
});
