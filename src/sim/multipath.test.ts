import { describe, expect, it } from 'vitest';
import { createSimHost, SimHost } from './sim-host.ts';
import { scenarioFloor } from './floor.ts';
import { dataPlaneFloor, DEFAULT_LATENCY, type LatencyModel } from './latency.ts';
import { loadScenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

const T = 'iqn.2010-10.org.openstack:volume-0001';
const PORTALS = ['192.0.2.10:3260', '192.0.2.11:3260'];

async function loginAll(host: SimHost, scanManual = false): Promise<void> {
  for (const p of PORTALS) {
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', p, '--op', 'new']);
    if (scanManual) await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', p, '--op', 'update', '-n', 'node.session.scan', '-v', 'manual']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', p, '--login']);
  }
}

describe('device-mapper multipath', () => {
  it('builds one map over both paths a map delay after udev, with its sysfs and /dev links', async () => {
    const host = createSimHost('healthy-multipath');
    await loginAll(host);
    const [sda] = host.model.diskList();
    const wwn = sda?.lun.wwn ?? '';
    const t = host.clock.now();
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`, { timeoutMs: 10_000 })).toBe(true);
    expect(host.clock.now()).toBeGreaterThan(t);
    expect(await host.realpath(`/dev/mapper/${wwn}`)).toBe('/dev/dm-0');
    expect(await host.readFile('/sys/block/dm-0/dm/name')).toBe(`${wwn}\n`);
    expect(await host.readFile('/sys/block/dm-0/dm/uuid')).toBe(`mpath-${wwn}\n`);
    expect(await host.readdir('/sys/block/dm-0/slaves')).toEqual(['sda', 'sdb']);
    expect(await host.glob('/sys/block/sd*/holders/dm-*')).toEqual(['/sys/block/sda/holders/dm-0', '/sys/block/sdb/holders/dm-0']);
    const ll = await host.exec('multipath', ['-ll', wwn]);
    expect(ll.stdout).toBe(
      `${wwn} dm-0 HITCH,SIMARRAY\n` +
        "size=1.0G features='0' hwhandler='1 alua' wp=rw\n" +
        "`-+- policy='service-time 0' prio=50 status=active\n" +
        // dev_t padded to the map's widest (multipath-tools 0.9.4, fidelity scene attach-detach)
        '  |- 2:0:0:1 sda 8:0  active ready running\n' +
        '  `- 3:0:0:1 sdb 8:16 active ready running\n',
    );
    expect((await host.exec('multipathd', ['show', 'status'])).stdout).toBe('path checker states:\nup                  2\n\npaths: 2\nbusy: False\n');
    expect((await host.exec('lsblk', ['-o', 'NAME,RO', '-l', '-n'])).stdout).toBe(
      `vda                                0\nsda                                0\n${wwn}  0\nsdb                                0\n${wwn}  0\n`,
    );

    // Detach the os-brick way: flush the map, delete the paths, log out.
    await host.exec('multipath', ['-f', wwn]);
    expect(await host.exists(`/dev/mapper/${wwn}`)).toBe(false);
    for (const d of ['sda', 'sdb']) {
      await host.exec('multipathd', ['del', 'path', `/dev/${d}`]);
      await host.exec('blockdev', ['--flushbufs', `/dev/${d}`]);
      await host.exec('tee', ['-a', `/sys/block/${d}/device/delete`], { input: '1' });
    }
    expect(await host.glob('/dev/disk/by-id/scsi-*')).toEqual([]);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '--logout']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '--op', 'delete']);
    expect(host.model.leftovers()).toEqual([]);
    expect(await host.glob('/sys/class/iscsi_host/*')).toEqual([]);
  });

  it('multipathd reads one portal\'s disk late: the map is built from the other, and the late disk joins by a reload once udev has handled the map', async () => {
    const host = createSimHost('healthy-multipath');
    // The real host, Debian 12 guest (multipath-tools 0.9.4): the map built from sdb's event alone,
    // then "sda: delaying path addition until <wwid> is fully initialized", and sda added by a
    // reload on the map's udev change event, 1.1 s after the map.
    host.sim.injectFault({ fault: 'multipathd-event-late', portal: PORTALS[0] ?? '', delayMs: 100 });
    await loginAll(host);
    const [sda] = host.model.diskList();
    const wwn = sda?.lun.wwn ?? '';
    expect(await host.waitForPath('/sys/block/sdb/holders/dm-0', { timeoutMs: 10_000 })).toBe(true);
    expect(await host.readdir('/sys/block/dm-0/slaves')).toEqual(['sdb']);
    const built = host.clock.now();
    expect(await host.exists(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`)).toBe(false);
    expect(await host.waitForPath('/sys/block/sda/holders/dm-0', { timeoutMs: 10_000 })).toBe(true);
    // Not before udev has linked the map.
    expect(await host.exists(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`)).toBe(true);
    expect(host.clock.now()).toBeGreaterThan(built);
    expect(await host.readdir('/sys/block/dm-0/slaves')).toEqual(['sda', 'sdb']);
    expect(host.sim.traceText()).toContain(`multipathd sda: delaying path addition until ${wwn} is fully initialized`);
  });

  it('a portal that dies after login fails its path in multipath -ll and multipathd show status', async () => {
    const host = createSimHost('healthy-multipath');
    await loginAll(host);
    await host.clock.sleep(5_000);
    host.sim.injectFault({ fault: 'portal-dead', portal: PORTALS[1] as string });
    expect((await host.exec('multipath', ['-ll'])).stdout).toContain('  `- 3:0:0:1 sdb 8:16 failed faulty running\n');
    // The checker's word for it is `down` (multipath-tools 0.9.4, fidelity scene path-lost).
    expect((await host.exec('multipathd', ['show', 'status'])).stdout).toBe('path checker states:\ndown                1\nup                  1\n\npaths: 2\nbusy: False\n');
    expect((await host.exec('iscsiadm', ['-m', 'session', '-P', '1'])).stdout).toContain('\t\tiSCSI Connection State: TRANSPORT WAIT\n\t\tiSCSI Session State: FREE\n');
  });

  it('find_multipaths yes: no map for a lone path until the WWID is known or a second path appears', async () => {
    const sim = Simulation.create('healthy-multipath');
    const scenarioHost = sim.scenario.hosts[0];
    const strict = Simulation.create({ ...sim.scenario, hosts: [{ ...(scenarioHost as NonNullable<typeof scenarioHost>), findMultipaths: 'yes' }] });
    const host = new SimHost(strict);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', PORTALS[0] as string, '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', PORTALS[0] as string, '--login']);
    await host.clock.sleep(5_000);
    expect(host.model.multipath.mapList()).toEqual([]);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', PORTALS[1] as string, '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', PORTALS[1] as string, '--login']);
    await host.clock.sleep(5_000);
    expect(host.sim.inspectHost('compute-1').maps).toMatchObject([{ dm: 'dm-0', paths: ['sda', 'sdb'] }]);
  });

  it('find_multipaths yes with the lone first path read late: the second tips the balance and both end in the map', async () => {
    const sim = Simulation.create('healthy-multipath');
    const scenarioHost = sim.scenario.hosts[0];
    const yes = Simulation.create({ ...sim.scenario, hosts: [{ ...(scenarioHost as NonNullable<typeof scenarioHost>), findMultipaths: 'yes' }] });
    yes.injectFault({ fault: 'multipathd-event-late', portal: PORTALS[0] ?? '', delayMs: 3_000 });
    const host = new SimHost(yes);
    await loginAll(host);
    await host.clock.sleep(10_000);
    expect(host.sim.inspectHost('compute-1').maps).toMatchObject([{ dm: 'dm-0', paths: ['sdb', 'sda'] }]);
  });

  it('multipathd add path: `fail` before udev has handled the disk (an orphan, mapped from udev\'s event later); `ok` after, the map there by the answer', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    const wwn = host.model.diskList()[0]?.lun.wwn ?? '';
    // The disk is there (the scan added it), udev has not handled it yet: no ID_SERIAL for multipathd.
    expect(await host.exists('/sys/block/sda')).toBe(true);
    expect(await host.exec('multipathd', ['add', 'path', '/dev/sda'], { okCodes: 'any' })).toEqual({ code: 1, stdout: 'fail\n', stderr: '' });
    expect((await host.exec('multipathd', ['show', 'paths'])).stdout).toBe('hcil    dev dev_t pri dm_st chk_st dev_st  next_check\n2:0:0:1 sda 8:0   -1  undef undef  unknown orphan    \n');
    expect(host.model.multipath.mapList()).toEqual([]);
    // udev's event: multipathd (find_multipaths no) maps the orphan by itself.
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`, { timeoutMs: 10_000 })).toBe(true);
    expect(host.sim.inspectHost('compute-1').maps).toMatchObject([{ dm: 'dm-0', paths: ['sda'] }]);
    expect(await host.readFile('/etc/multipath/wwids')).toContain(`/${wwn}/\n`);
    await host.exec('multipath', ['-f', wwn]);
    expect(host.model.multipath.mapList()).toEqual([]);
    // After udev: `ok`, and the map exists when the answer comes (its udev links a little later).
    expect((await host.exec('multipathd', ['add', 'path', '/dev/sda'])).stdout).toBe('ok\n');
    expect(await host.readdir('/sys/block/sda/holders')).toEqual(['dm-0']);
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`, { timeoutMs: 1_000 })).toBe(true);
    expect((await host.exec('multipath', ['-C', `/dev/mapper/${wwn}`], { okCodes: 'any' })).code).toBe(0);
  });

  it('find_multipaths strict: `add path` answers ok and builds nothing until multipath -a records the WWID', async () => {
    const sim = Simulation.create('healthy-single');
    const h0 = sim.scenario.hosts[0] as NonNullable<(typeof sim.scenario.hosts)[0]>;
    const host = new SimHost(Simulation.create({ ...sim.scenario, hosts: [{ ...h0, findMultipaths: 'strict' }] }));
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    await host.clock.sleep(5_000);
    const wwn = host.model.diskList()[0]?.lun.wwn ?? '';
    expect(await host.exec('multipathd', ['add', 'path', '/dev/sda'])).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    expect(host.model.multipath.mapList()).toEqual([]);
    expect((await host.exec('multipathd', ['show', 'maps'])).stdout).toBe('ok\n');
    expect((await host.exec('multipath', ['-a', wwn])).stdout).toBe(`wwid '${wwn}' added\n`);
    expect((await host.exec('multipathd', ['add', 'path', '/dev/sda'])).stdout).toBe('ok\n');
    expect(host.sim.inspectHost('compute-1').maps).toMatchObject([{ dm: 'dm-0', paths: ['sda'] }]);
    // Its session's recovery timeout is multipath-tools', not iscsid.conf's 120 s.
    expect(await host.readFile('/sys/class/iscsi_session/session1/recovery_tmo')).toBe('5\n');
  });
});

describe('data-plane floor', () => {
  it('is export + the fastest reachable path with its login process; multipath: until every reachable path is in multipathd\'s map', () => {
    const m = DEFAULT_LATENCY;
    const path = m.commandMs + m.loginRttMs + m.lunScanMs + m.udevDelayMs;
    expect(Simulation.create('healthy-multipath').floor({ multipath: true }).totalMs).toBe(m.arrayExportMs + path + m.multipathMapDelayMs);
    // The guest's world: the login is iscsiadm's start and iscsid's time; asking multipathd for
    // the map would cost more than its building it from udev's event. Both portals' paths in the
    // map: iscsid serves the two logins in turn, udev (one worker) the two disks' events in turn.
    const c = Simulation.create('calibrated');
    const l = c.latency;
    expect(l.udevWorkers).toBe(1);
    const disk1 = (l.perCommandMs['iscsiadm'] ?? 0) + l.iscsidServiceMs + l.loginRttMs + l.lunScanMs;
    const linked1 = disk1 + l.udevDelayMs;
    const linked2 = Math.max(disk1 + l.iscsidServiceMs, linked1) + l.udevDelayMs;
    // The map is made on the first disk; udev's event on it queues behind the second disk's (one
    // worker), so multipathd reads the second disk while the map is new and adds it only once
    // udev has handled the map, by one more build ("delaying path addition", the guest's 0.9.4).
    expect(l.multipathMapDelayMs).toBe(l.multipathMapBuildMs);
    expect(c.floor({ multipath: true })).toMatchObject({ pathMs: linked2, mapMs: l.udevDelayMs + l.multipathMapBuildMs });
    // Single path: the first disk alone.
    expect(c.floor({ multipath: false })).toMatchObject({ pathMs: linked1, mapMs: 0 });
    expect((l.perCommandMs['multipathd'] ?? 0) + l.multipathMapBuildMs).toBeGreaterThan(l.multipathMapDelayMs);
    expect(Simulation.create('healthy-single').floor({ multipath: false }).totalMs).toBe(m.arrayExportMs + path);
    // The seed: the dead portal costs a perfect initiator nothing, and no map ever appears.
    const seedTargets = ['iqn.1992-04.com.emc:cx.apm00150602415.a0', 'iqn.1992-04.com.emc:cx.apm00150602415.b0'];
    expect(Simulation.create('seed').floor({ multipath: true, targets: seedTargets })).toMatchObject({ totalMs: 7_000 + path, mapMs: 0, reachable: true });
    // The pure form, from scenario data alone, agrees with the simulation's.
    for (const name of ['healthy-multipath', 'healthy-single', 'seed', 'map-never', 'slow-udev', 'eight-portals-three-dead', 'calibrated']) {
      const sim = Simulation.create(name);
      const targets = name === 'seed' ? seedTargets : undefined;
      expect(scenarioFloor(loadScenario(name), { multipath: true, ...(targets ? { targets } : {}) }), name).toEqual(sim.floor({ multipath: true, ...(targets ? { targets } : {}) }));
    }
    expect(dataPlaneFloor({ latency: m, portals: [{ kind: 'dead' }, { kind: 'refusing' }], multipathMap: true })).toMatchObject({ reachable: false, totalMs: Infinity });
    expect(dataPlaneFloor({ latency: m, portals: [{ kind: 'slow', latencyMs: 10 }], multipathMap: false }).pathMs).toBe(path + 40);
  });
});

describe('map-never holds on every route', () => {
  it('multipath -a refuses the WWID, multipathd add path answers blacklisted, plain multipath fails to build the map (a blacklisted WWID on multipath-tools 0.9.4)', async () => {
    const host = createSimHost('healthy-single', { faults: [{ fault: 'map-never' }] });
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    await host.clock.sleep(5_000);
    const wwn = host.model.diskList()[0]?.lun.wwn ?? '';
    expect(await host.exec('multipath', ['-a', wwn], { okCodes: 'any' })).toEqual({ code: 1, stdout: '', stderr: '' });
    expect(await host.exec('multipathd', ['add', 'path', '/dev/sda'], { okCodes: 'any' })).toEqual({ code: 0, stdout: 'blacklisted\n', stderr: '' });
    const plain = await host.exec('multipath', [], { okCodes: 'any' });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(new RegExp(`^\\d+\\.\\d{6} \\| ${wwn}: domap \\(0\\) failure for create/reload map\\n$`));
    expect(await host.exists(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`)).toBe(false);
    expect(host.sim.inspectHost('compute-1').maps).toEqual([]);
  });

  it('a map-never without a WWN also covers LUNs a backend creates later', async () => {
    const host = createSimHost('seed', { faults: [{ fault: 'map-never' }] });
    const arr = host.sim.array('cx-apm00150602415');
    arr.createTarget('iqn.t:new', ['192.168.1.60:3260']);
    const lun = arr.addLun('iqn.t:new', { lun: 3 });
    arr.allowInitiator('iqn.t:new', host.model.initiator);
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.t:new', '-p', '192.168.1.60:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.t:new', '-p', '192.168.1.60:3260', '--login']);
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${lun.wwn}`, { timeoutMs: 30_000 })).toBe(false);
    expect((await host.exec('multipathd', ['add', 'path', '/dev/sda'], { okCodes: 'any' })).stdout).toBe('blacklisted\n');
  });
});

describe('multipath -f while udev probes the map (closed after a write)', () => {
  async function mapped(latency: Partial<LatencyModel> = {}): Promise<{ host: SimHost; wwn: string }> {
    const host = createSimHost('healthy-multipath', { latency });
    await loginAll(host);
    const wwn = host.model.diskList()[0]?.lun.wwn ?? '';
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${wwn}`, { timeoutMs: 10_000 })).toBe(true);
    return { host, wwn };
  }

  it('probe open at the open-count check: "map in use", exit 1; once udev is done the flush works', async () => {
    const { host, wwn } = await mapped();
    host.model.open('dm-0', { write: true })();
    const busy = await host.exec('multipath', ['-f', wwn], { okCodes: 'any' });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(new RegExp(`\\| ${wwn}: map in use\\n$`));
    await host.clock.sleep(DEFAULT_LATENCY.udevDelayMs);
    expect((await host.exec('multipath', ['-f', wwn])).code).toBe(0);
    expect(await host.exists('/dev/dm-0')).toBe(false);
  });

  it('probe opens it between the check and the remove ioctl: EBUSY in libdevmapper\'s words; a read-only close raises no probe', async () => {
    const { host, wwn } = await mapped({ mapFlushMs: 200 });
    // A close after reading only: no change event, nothing holds the map.
    host.model.open('dm-0')();
    host.model.udev.hold();
    host.model.open('dm-0', { write: true })();
    const flushing = host.exec('multipath', ['-f', wwn], { okCodes: 'any' });
    // udev gets to the event once the flush has passed its check (after the command's start),
    // and its probe (udevDelayMs) is still on when the remove comes, 200 ms after the check.
    await host.clock.sleep(DEFAULT_LATENCY.commandMs + 150);
    host.model.udev.release();
    const r = await flushing;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`libdevmapper: ioctl/libdm-iface.c\\(1980\\): device-mapper: remove ioctl on ${wwn}  failed: Device or resource busy\\n.*\\| failed to remove multipath map ${wwn}\\n$`));
    expect(await host.exists('/dev/dm-0')).toBe(true);
    await host.clock.sleep(DEFAULT_LATENCY.udevDelayMs);
    expect((await host.exec('multipath', ['-f', wwn])).code).toBe(0);
  });
});
