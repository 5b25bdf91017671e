import { describe, expect, it } from 'vitest';
import { A0, B0, EMPTY, node, P59, P60, SEED, seedRig, WWN } from './iscsi.test-helpers.ts';

/**
 * The seed (Newton) took 254.5 s for this attach: two 120 s login timeouts on the dead portal
 * plus rescans and fixed sleeps. The data-plane floor of the healthy path is login RTT (40 ms)
 * + LUN scan (15 ms) + udev (100 ms) + multipathd building the map by itself (1000 ms) + udev's
 * event for the map, which makes its by-id link (100 ms) = 1255 ms.
 * Hitch records the WWID while udev works and lets multipathd build the map from udev's event:
 * a real multipathd refuses a forced `add path` before udev has stored the disk's ID_SERIAL and
 * then never maps that path (Debian 12, multipath-tools 0.9.4). So it comes in at that floor
 * plus its one command (`multipath -a`, 5 ms).
 */
const PATH_MS = 40 + 15 + 100;
const FLOOR_MS = PATH_MS + 1000 + 100;

describe('seed scenario: multipath, portal 192.168.1.59 dead', () => {
  it('returns the multipath device at the healthy-path floor + ε, not 120 s', async () => {
    const r = seedRig();
    const dev = await r.conn.connectVolume(r.trace.root(), SEED);
    expect(dev).toEqual({ type: 'block', path: '/dev/dm-0', scsi_wwn: WWN, multipath_id: WWN });
    const took = r.now();
    expect(took).toBeGreaterThanOrEqual(PATH_MS);
    expect(took).toBeLessThanOrEqual(FLOOR_MS + 5); // ε: `multipath -a`, 5 ms
    expect(r.logs).toContain(`info connect_volume: return (${took}ms) {"type":"block","path":"/dev/dm-0","scsi_wwn":"${WWN}","multipath_id":"${WWN}"}`);
    expect(r.logs.filter((l) => l.startsWith('info Trying to connect to iSCSI portal'))).toEqual([
      `info Trying to connect to iSCSI portal ${P59}`,
      `info Trying to connect to iSCSI portal ${P60}`,
    ]);
  });

  it('the dead portal fails in the background, is in the trace, and leaves nothing behind', async () => {
    const r = seedRig();
    await r.conn.connectVolume(r.trace.root(), SEED);
    const connectSpan = r.trace.spans.find((s) => s.name === 'connect_volume');
    expect(connectSpan?.outcome).toBe('ok');
    await r.conn.settled();
    expect(r.now()).toBeGreaterThanOrEqual(120_000); // iscsid's login timeout, paid off the caller's path
    const dead = r.trace.spans.find((s) => s.name === 'connect_path' && s.attrs['portal'] === P59);
    expect(dead?.outcome).toBe('error');
    expect(dead?.error?.code).toBe('HITCH_ISCSI_LOGIN_TIMEOUT');
    expect(r.logs).toContain(`warning Failed to connect to iSCSI portal ${P59}: HITCH_ISCSI_LOGIN_TIMEOUT; cleaning up`);
    expect(r.state()).toEqual({
      nodes: [`${P60},${B0}`],
      sessions: [`${P60},${B0}`],
      disks: [`sdb ${P60} lun 192`],
      maps: [`${WWN} dm-0 [sdb]`],
    });
  });

  it('pins the exact command sequence, then disconnects to nothing', async () => {
    const r = seedRig();
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.settled();
    expect(r.host.commands()).toEqual([
      node(A0, P59, '--login'),
      node(B0, P60, '--login'),
      `multipath -a ${WWN}`, // as soon as sdb exists, while udev works on it; multipathd maps it itself
      node(A0, P59, '--op delete'), // at 120 s, after the dead login timed out
    ]);
    expect(r.host.replaced()).toEqual([`/etc/iscsi/nodes/${A0}/192.168.1.59,3260 (0600)`, `/etc/iscsi/nodes/${B0}/192.168.1.60,3260 (0600)`]);
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- - - 192']);

    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), SEED);
    expect(r.host.commands()).toEqual([
      'blockdev --flushbufs /dev/dm-0',
      `multipath -f ${WWN}`,
      'multipathd del path /dev/sdb',
      node(A0, P59, '--op delete'), // no session: only the (already deleted) record, idempotently
      node(B0, P60, '--logout'),
      node(B0, P60, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sdb/device/delete <- 1']);
    expect(r.state()).toEqual(EMPTY);
  });

  it('a disconnect while the dead portal is still logging in stops it and leaves nothing', async () => {
    const r = seedRig();
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.disconnectVolume(r.trace.root(), SEED);
    expect(r.now()).toBeLessThan(5_000);
    expect(r.state()).toEqual(EMPTY);
    await r.conn.settled();
    expect(r.state()).toEqual(EMPTY);
  });

  it('a login given up on is watched by the reaper until iscsid\'s window is over (retry_max × login_timeout)', async () => {
    const r = seedRig();
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.disconnectVolume(r.trace.root(), SEED);
    const nothing = { keep: async () => [] };
    const first = await r.conn.reap(r.trace.root(), nothing);
    // iscsid may still complete the killed login: the target stays owned, reported pending.
    expect(first.pending).toEqual([expect.stringMatching(new RegExp(`^${P59},${A0.replace(/\./g, '\\.')} until \\+\\d+ s$`))]);
    expect(first.reaped).toEqual([]);
    await r.host.clock.sleep(150_000); // past (8 + 1) × 15 s + 5 s
    const later = await r.conn.reap(r.trace.root(), nothing);
    expect(later.pending).toBeUndefined();
    expect(later.reaped).toEqual([`${P59},${A0}`]);
    expect(await r.conn.reap(r.trace.root(), nothing)).toEqual({ reaped: [], failures: [], kept: [] });
    expect(r.state()).toEqual(EMPTY);
  });
});
