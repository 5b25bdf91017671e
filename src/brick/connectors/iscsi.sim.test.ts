/**
 * The iSCSI connector on the simulator (SimHost, virtual clock), unchanged from a real host.
 * Times are virtual milliseconds; the floor is the simulator's data-plane floor.
 */
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { createSimHost, type SimHost } from '../../sim/sim-host.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { loadScenario, validateScenario, type Scenario } from '../../sim/scenario.ts';
import { Trace } from '../../trace/span.ts';
import { getConnectorProperties } from '../connector-properties.ts';
import { DEFAULT_ISCSI_TIMEOUTS, IscsiConnector } from './iscsi.ts';
import { A0, B0, node, P59, P60, SEED, WWN } from './iscsi.test-helpers.ts';
import { TGT_IQN as FIDELITY_IQN } from '../../sim/fidelity/scenes.ts';

interface SimRig {
  readonly sim: SimHost;
  readonly host: RecordingHost;
  readonly trace: Trace;
  readonly conn: IscsiConnector;
  readonly logs: string[];
}

function simRig(scenario: string | Scenario, opts: { multipath?: boolean; enforce?: boolean } = {}): SimRig {
  const sim = createSimHost(scenario);
  const host = new RecordingHost(sim);
  const logs: string[] = [];
  const conn = new IscsiConnector({
    host,
    multipath: opts.multipath ?? true,
    enforceMultipath: opts.enforce ?? false,
    logger: (l) => logs.push(`${l.level} ${l.message}`),
  });
  return { sim, host, trace: new Trace(host.clock), conn, logs };
}

/** ε: the commands on the critical path (the login's, 5 ms) — never a login timeout or a sleep. */
const EPSILON_MS = 10;

/**
 * How late brick may learn of a map that exists: multipathd makes the map, udev links it
 * `udevDelayMs` later (Debian 12 under TCG: 0.4–0.9 s; the fidelity suite's udev model), and
 * the disk's holders, which say it at once, have no event — brick looks at them with backoff
 * while it waits for the link. So a multipath connect returns at most one udev delay after the
 * map floor.
 */
function mapSeenByMs(r: { sim: SimHost }): number {
  return r.sim.sim.latency.udevDelayMs;
}

describe('the seed scenario on the simulator', () => {
  it('connect_volume returns the single path at the healthy-path floor + ε when, as in the seed, no map ever comes (seed: 254.5 s)', async () => {
    const r = simRig('seed');
    const floor = r.sim.sim.floor({ multipath: true });
    const dev = await r.conn.connectVolume(r.trace.root(), SEED);
    const took = r.host.clock.now();
    // The seed's multipathd never builds a map for this WWN, even when the path is added by
    // hand: multipathd answers `fail`, so Hitch falls back to the single path at once instead
    // of waiting for a map (the seed waited 2 + 4 s per link, twice).
    expect(dev).toEqual({ type: 'block', path: '/dev/sda', scsi_wwn: WWN });
    // The LUN is already exported (the array's export time belongs to initialize_connection).
    const pathFloor = floor.pathMs;
    expect(took).toBeGreaterThanOrEqual(pathFloor);
    expect(took).toBeLessThanOrEqual(pathFloor + EPSILON_MS);
    expect(r.logs).toContain(`info connect_volume: return (${took}ms) ${JSON.stringify(dev)}`);
  });

  it('the dead portal fails in the background, shows in the trace, and leaves nothing', async () => {
    const r = simRig('seed');
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.settled();
    const dead = r.trace.spans.find((s) => s.name === 'connect_path' && s.attrs['portal'] === P59);
    expect(dead).toMatchObject({ outcome: 'error', error: { code: 'HITCH_ISCSI_LOGIN_TIMEOUT' } });
    expect(dead?.endMs).toBeGreaterThanOrEqual(120_000);
    const snap = r.sim.sim.inspectHost('newton');
    expect(snap.nodes.map((n) => n.portal)).toEqual([P60]);
    expect(snap.sessions.map((s) => s.portal)).toEqual([P60]);
    expect(snap.disks.map((d) => d.portal)).toEqual([P60]);
    expect(snap.maps).toEqual([]);
    expect(r.logs.some((l) => l.includes('Unable to find multipath device name for volume. Using path /dev/sda for volume.'))).toBe(true);
  });

  it('pins the command sequence of connect, background cleanup and disconnect; nothing left', async () => {
    const r = simRig('seed');
    await r.conn.connectVolume(r.trace.root(), SEED);
    await r.conn.settled();
    expect(r.host.commands()).toEqual([
      node(A0, P59, '--login'),
      node(B0, P60, '--login'),
      // While udev works on sda: the map is forced, and multipathd answers `fail` (map-never).
      `multipath -a ${WWN}`,
      'multipathd add path /dev/sda',
      node(A0, P59, '--op delete'), // 120 s later, in the background
    ]);
    // The records were files brick wrote (the simulator's iscsiadm read them for the logins).
    expect(r.host.replaced()).toEqual([`/etc/iscsi/nodes/${A0}/192.168.1.59,3260 (0600)`, `/etc/iscsi/nodes/${B0}/192.168.1.60,3260 (0600)`]);
    expect(r.sim.sim.inspectHost('newton').nodes).toEqual([{ target: B0, portal: P60, tpgt: -1, iface: 'default', startup: 'automatic', scan: 'manual', authmethod: 'None' }]);
    // `- - 192`: the session has no SCSI target before its first scan (real kernel; fidelity scene attach-detach).
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- - - 192']);
    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), SEED);
    expect(r.host.commands()).toEqual([
      // No map to flush or path to remove from multipathd: the seed's volume ran single path.
      'blockdev --flushbufs /dev/sda',
      node(A0, P59, '--op delete'),
      node(B0, P60, '--logout'),
      node(B0, P60, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sda/device/delete <- 1']);
    expect(leftovers(r.sim.model)).toEqual([]);
  });

  it('connector properties of the seed host', async () => {
    const r = simRig('seed');
    const props = await getConnectorProperties(r.host, r.trace.root(), { ip: '172.16.1.11', multipath: true });
    expect(props).toEqual({
      platform: 'x86_64',
      os_type: 'linux',
      ip: '172.16.1.11',
      host: 'newton',
      multipath: true,
      enforce_multipath: false,
      initiator: 'iqn.1993-08.org.debian:01:7cc8838d1c0',
      do_local_attach: false,
    });
  });
});

const IQN = 'iqn.2010-10.org.openstack:volume-0001';

describe('other built-in scenarios', () => {
  it('eight portals, three dead: returns at the floor; the five live paths join the map; dead ones leave nothing', async () => {
    const r = simRig('eight-portals-three-dead');
    const portals = [21, 22, 23, 24, 25, 26, 27, 28].map((n) => `192.0.2.${n}:3260`);
    const ci = { target_portals: portals, target_iqns: portals.map(() => IQN), target_luns: portals.map(() => 1) };
    const floor = r.sim.sim.floor({ multipath: true });
    const dev = await r.conn.connectVolume(r.trace.root(), ci);
    expect(r.host.clock.now()).toBeLessThanOrEqual(floor.pathMs + floor.mapMs + mapSeenByMs(r) + EPSILON_MS);
    await r.conn.settled();
    const snap = r.sim.sim.inspectHost('compute-1');
    expect(snap.maps).toHaveLength(1);
    expect(snap.maps[0]?.paths).toHaveLength(5);
    expect(snap.nodes).toHaveLength(5);
    await r.conn.disconnectVolume(r.trace.root(), ci);
    expect(leftovers(r.sim.model)).toEqual([]);
    expect(dev.multipath_id).toBe(snap.maps[0]?.wwn);
  });

  it('device never appears: HITCH_DEVICE_NOT_FOUND within the bounded wait, nothing left', async () => {
    const r = simRig('healthy-single', { multipath: false });
    r.sim.sim.injectFault({ fault: 'device-never-appears' });
    const err = await r.conn.connectVolume(r.trace.root(), { target_portal: '192.0.2.10:3260', target_iqn: IQN, target_lun: 1 }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DEVICE_NOT_FOUND')).toBe(true);
    expect(r.host.clock.now()).toBeLessThan(20_000);
    expect(r.host.commands()).toEqual([node(IQN, '192.0.2.10:3260', '--login'), node(IQN, '192.0.2.10:3260', '--logout'), node(IQN, '192.0.2.10:3260', '--op delete')]);
    expect(leftovers(r.sim.model)).toEqual([]);
  });

  it('a failed look for the disk in sysfs ends the wait for its link at once, and the path is cleaned up', async () => {
    // The wait for udev's link runs beside the look in sysfs; when the look fails (here: EIO on
    // the LUN's block directory, and the link never comes: udev handles no event), the connect
    // fails then, not after the wait's 5 s, and leaves nothing.
    const sim = createSimHost('healthy-single');
    sim.model.udev.hold();
    const failing = new Proxy(sim, {
      get(target, prop, receiver) {
        if (prop === 'readdir') {
          return async (path: string) => {
            if (path.endsWith('/block') && path.includes('/iscsi_session/')) throw Object.assign(new Error(`EIO: i/o error, scandir '${path}'`), { code: 'EIO' });
            return target.readdir(path);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const host = new RecordingHost(failing);
    const conn = new IscsiConnector({ host, multipath: true });
    const err = await conn.connectVolume(new Trace(host.clock).root(), { target_portal: '192.0.2.10:3260', target_iqn: IQN, target_lun: 1 }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DEVICE_NOT_FOUND')).toBe(true);
    expect(String((err as Error).message)).toContain('EIO');
    expect(host.clock.now()).toBeLessThan(5_000);
    expect(host.commands()).toEqual([node(IQN, '192.0.2.10:3260', '--login'), node(IQN, '192.0.2.10:3260', '--logout'), node(IQN, '192.0.2.10:3260', '--op delete')]);
    expect(leftovers(sim.model)).toEqual([]);
  });

  it('wrong CHAP secret: HITCH_ISCSI_LOGIN_FAILED (authentication), secret never recorded, nothing left', async () => {
    const r = simRig('healthy-single', { multipath: false });
    r.sim.sim.array(r.sim.sim.arrays()[0]?.name ?? '').allowInitiator(IQN, 'iqn.1993-08.org.debian:01:compute1', { chapUser: 'u', chapPassword: 'right-secret' });
    const ci = { target_portal: '192.0.2.10:3260', target_iqn: IQN, target_lun: 1, auth_method: 'CHAP', auth_username: 'u' };
    await expect(r.conn.connectVolume(r.trace.root(), { ...ci, auth_password: 'wrong-secret' })).rejects.toMatchObject({ code: 'HITCH_ISCSI_LOGIN_FAILED' });
    expect(leftovers(r.sim.model)).toEqual([]);
    const dev = await r.conn.connectVolume(r.trace.root(), { ...ci, auth_password: 'right-secret' });
    expect(dev.path).toMatch(/^\/dev\/sd[a-z]$/);
    const text = [JSON.stringify(r.host.calls), r.trace.toText(), r.logs.join('\n'), r.sim.sim.traceText()].join('\n');
    expect(text).not.toContain('right-secret');
    expect(text).not.toContain('wrong-secret');
    // Only in the record (root's file), where iscsid reads it; iscsiadm shows it masked.
    const record = `/etc/iscsi/nodes/${IQN}/192.0.2.10,3260`;
    expect(r.sim.model.vfs.lstat(record)).toMatchObject({ mode: 0o600 });
    expect(await r.sim.readFile(record)).toContain('\nnode.session.auth.password = right-secret\n');
    const show = await r.sim.exec('iscsiadm', ['-m', 'node', '-T', IQN, '-p', '192.0.2.10:3260']);
    expect(show.stdout).toContain('\nnode.session.auth.authmethod = CHAP\nnode.session.auth.username = u\nnode.session.auth.password = ********\n');
  });
});

describe('a disconnect right after I/O through the map (the calibrated scenario: the guest\'s udev)', () => {
  it('udev\'s probe of the map closed after a write makes multipath -f busy; brick flushes again and leaves nothing', async () => {
    const r = simRig('calibrated');
    const ci = { target_portals: ['127.0.0.1:3260', '127.0.0.2:3260'], target_iqns: [FIDELITY_IQN, FIDELITY_IQN], target_luns: [1, 1] };
    const dev = await r.conn.connectVolume(r.trace.root(), ci);
    await r.conn.settled();
    const dm = dev.path.split('/').pop() ?? '';
    expect(dm).toMatch(/^dm-\d+$/);
    // udev done with the attach's own events; then what the storage-host suite's cases do
    // before each disconnect: an O_DIRECT write through the map, and close.
    await r.host.clock.sleep(5_000);
    r.sim.model.open(dm, { write: true })();
    expect(r.sim.model.openCount(dm)).toBe(1);
    await r.conn.disconnectVolume(r.trace.root(), ci);
    const flushes = r.host.calls.filter((c) => c.op === 'exec' && c.cmd === 'multipath' && c.args[0] === '-f');
    expect(flushes.length).toBeGreaterThanOrEqual(2);
    const last = flushes.at(-1);
    expect(last?.op === 'exec' ? last.code : null).toBe(0);
    expect(r.logs.filter((l) => l.includes('the map is busy (map in use)')).length).toBe(flushes.length - 1);
    expect(leftovers(r.sim.model)).toEqual([]);
  });
});

describe('a host whose open-iscsi keeps node records elsewhere (RHEL: /var/lib/iscsi/nodes)', () => {
  it('iscsiadm makes the record; the attach and the detach work as on Debian', async () => {
    const base = loadScenario('healthy-single');
    const h0 = base.hosts[0] as NonNullable<(typeof base.hosts)[number]>;
    const r = simRig({ ...base, hosts: [{ ...h0, iscsiNodesDir: '/var/lib/iscsi/nodes' }] }, { multipath: false });
    const ci = { target_portal: '192.0.2.10:3260', target_iqn: IQN, target_lun: 1 };
    const dev = await r.conn.connectVolume(r.trace.root(), ci);
    expect(dev.path).toBe('/dev/sda');
    expect(r.host.replaced()).toEqual([]);
    expect(r.host.commands()).toEqual([
      node(IQN, '192.0.2.10:3260'),
      node(IQN, '192.0.2.10:3260', '--interface default --op new'),
      node(IQN, '192.0.2.10:3260', '--op update -n node.session.scan -v manual'),
      node(IQN, '192.0.2.10:3260', '--login'),
      node(IQN, '192.0.2.10:3260', '--op update -n node.startup -v automatic'),
    ]);
    expect(r.sim.model.vfs.readdir(`/var/lib/iscsi/nodes/${IQN}`)).toEqual(['192.0.2.10,3260']);
    expect(r.sim.sim.inspectHost('compute-1').nodes).toMatchObject([{ startup: 'automatic', scan: 'manual' }]);
    await r.conn.disconnectVolume(r.trace.root(), ci);
    expect(leftovers(r.sim.model)).toEqual([]);
  });
});

describe('multipathd stops between connector properties and the attach', () => {
  it('falls back to the single path after the map grace, without the full map wait (add path: exit 1, no answer); enforced → clear error', async () => {
    const r = simRig('healthy-multipath');
    r.sim.sim.injectFault({ fault: 'multipathd-down' });
    const ci = { target_portals: ['192.0.2.10:3260', '192.0.2.11:3260'], target_iqns: [IQN, IQN], target_luns: [1, 1] };
    const dev = await r.conn.connectVolume(r.trace.root(), ci);
    expect(dev.path).toMatch(/^\/dev\/sd[a-z]$/);
    expect(dev.multipath_id).toBeUndefined();
    // The grace multipathd gets to build the map from udev's event, then `add path` says the
    // daemon is down: no wait for a map that cannot come.
    expect(r.host.clock.now()).toBeLessThan(1_000 + DEFAULT_ISCSI_TIMEOUTS.mapGraceMs);
    await r.conn.settled();
    await r.conn.disconnectVolume(r.trace.root(), ci);
    expect(leftovers(r.sim.model)).toEqual([]);

    const e = simRig('healthy-multipath', { enforce: true });
    e.sim.sim.injectFault({ fault: 'multipathd-down' });
    await expect(e.conn.connectVolume(e.trace.root(), ci)).rejects.toMatchObject({ code: 'HITCH_MULTIPATH_NOT_FOUND' });
    await e.conn.settled();
    expect(leftovers(e.sim.model)).toEqual([]);
  });
});

describe('determinism', () => {
  it('the same scenario gives the same trace, byte for byte', async () => {
    const run = async (): Promise<string> => {
      const r = simRig('seed');
      await r.conn.connectVolume(r.trace.root(), SEED);
      await r.conn.settled();
      await r.conn.disconnectVolume(r.trace.root(), SEED);
      return `${r.trace.toText()}\n${r.sim.sim.traceText()}`;
    };
    expect(await run()).toBe(await run());
  });
});

describe('20 concurrent attaches on one simulated host, 20 targets, one dead', () => {
  it('total virtual time ≈ the slowest healthy attach, not the sum', async () => {
    const initiator = 'iqn.1993-08.org.debian:01:compute1';
    const n = 20;
    const portal = (i: number): string => `192.0.2.${100 + i}:3260`;
    const iqn = (i: number): string => `iqn.2010-10.org.openstack:volume-${String(i).padStart(4, '0')}`;
    const scenario = validateScenario({
      name: 'twenty-targets',
      seed: 7,
      portals: Object.fromEntries(Array.from({ length: n }, (_, i) => [portal(i), { state: i === 13 ? 'dead' : 'healthy' }])),
      arrays: [
        {
          name: 'array1',
          portals: Array.from({ length: n }, (_, i) => portal(i)),
          targets: Array.from({ length: n }, (_, i) => ({ iqn: iqn(i), portals: [portal(i)], luns: [{ lun: 1 }], acl: [{ initiator }] })),
        },
      ],
      hosts: [{ name: 'compute-1', initiator, multipathd: true, findMultipaths: 'no' }],
    });
    const r = simRig(scenario);
    const floor = r.sim.sim.floor({ multipath: true, targets: [iqn(0)] });
    const ends: Array<{ i: number; at: number; code?: string }> = [];
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        r.conn.connectVolume(r.trace.root(), { target_portal: portal(i), target_iqn: iqn(i), target_lun: 1 }).then(
          () => void ends.push({ i, at: r.host.clock.now() }),
          (e: unknown) => void ends.push({ i, at: r.host.clock.now(), ...(isHitchError(e) ? { code: e.code } : {}) }),
        ),
      ),
    );
    const healthy = ends.filter((e) => e.i !== 13);
    expect(healthy.every((e) => e.code === undefined)).toBe(true);
    const slowest = Math.max(...healthy.map((e) => e.at));
    // One attach's floor + ε — 19 serialised attaches would take ≥ 19 × floor.
    expect(slowest).toBeLessThanOrEqual(floor.pathMs + floor.mapMs + mapSeenByMs(r) + EPSILON_MS);
    expect(ends.find((e) => e.i === 13)).toMatchObject({ code: 'HITCH_ISCSI_LOGIN_FAILED' });
    expect(r.sim.sim.inspectHost('compute-1').sessions).toHaveLength(19);
    expect(r.sim.sim.inspectHost('compute-1').nodes.some((x) => x.portal === portal(13))).toBe(false);
  });
});
