/**
 * The NVMe/TCP connector on the simulator (SimHost, virtual clock): the simulated kernel and
 * nvme-cli answer as Linux 6.1 and nvme-cli 2.3 did in the storage host guest (`src/sim/nvme-model.ts`,
 * held to the guest by the fidelity scene `nvme`). Times are virtual milliseconds; the floor is
 * the simulator's NVMe/TCP data-plane floor.
 */
import { describe, expect, it } from 'vitest';
import { nvmeDataPlaneFloor } from '../../sim/latency.ts';
import type { Scenario } from '../../sim/scenario.ts';
import { loadScenario } from '../../sim/scenario.ts';
import { createSimHost, type SimHost } from '../../sim/sim-host.ts';
import { Trace } from '../../trace/span.ts';
import { Brick, parseConnectionInfo } from '../index.ts';

const NQN = 'nqn.2014-08.org.hitch:shared';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427';
const [UA, UB] = ['3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f601', '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f602'] as const;
const P59 = '192.168.1.59:4420';
const P60 = '192.168.1.60:4420';
/** ε: the commands on the critical path besides the connect (none: reads of sysfs cost nothing). */
const EPSILON_MS = 10;

function scenario(opts: { dead?: string[]; native?: boolean } = {}): Scenario {
  return {
    name: 'nvme-shared',
    seed: 1,
    portals: Object.fromEntries([P59, P60].map((p) => [p, { state: opts.dead?.includes(p) ? 'dead' : 'healthy' }])),
    arrays: [
      {
        name: 'nvmet1',
        portals: [P59, P60],
        subsystems: [{ nqn: NQN, hosts: [HOSTNQN], namespaces: [{ nsid: 1, uuid: UA, sizeBytes: 64 * 1024 ** 2 }, { nsid: 2, uuid: UB, sizeBytes: 32 * 1024 ** 2 }] }],
      },
    ],
    hosts: [{ name: 'compute-1', initiator: 'iqn.1993-08.org.debian:01:compute1', ip: '192.168.1.100', nvmeHostNqn: HOSTNQN, ...(opts.native === false ? { nvmeNativeMultipath: false, multipathd: false } : {}) }],
  };
}

function rig(sc: Scenario | string) {
  const sim = createSimHost(sc);
  const logs: string[] = [];
  const brick = new Brick({ host: sim, ip: '192.168.1.100', multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`) });
  return { sim, brick, logs, span: new Trace(sim.clock).root() };
}

const info = (uuid: string, portals = [P59, P60]) =>
  parseConnectionInfo({ driver_volume_type: 'nvmeof', data: { target_nqn: NQN, vol_uuid: uuid, portals: portals.map((p) => [...p.split(':'), 'tcp']) } });

async function nvme(sim: SimHost, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return sim.exec('nvme', args, { okCodes: 'any' });
}

function floorOf(sim: SimHost, portals: string[]): number {
  return nvmeDataPlaneFloor({ latency: sim.sim.latency, portals: portals.map((p) => ({ kind: sim.sim.network.get(p).kind })) }).pathMs;
}

/** A volume of its own subsystem on the array of `nvme-dead-portal`, admitting the host, over `portals` (that order). */
function deadPortalVolume(sim: SimHost, portals = [P59, P60]) {
  const arr = sim.sim.array('nvmet1');
  const id = '0323170d-9951-4728-b562-61af22ac0eb3';
  const nqn = `nqn.2014-08.org.openstack:volume-${id}`;
  arr.nvme.create(nqn);
  arr.nvme.addNamespace(nqn, { uuid: id });
  arr.nvme.allowHost(nqn, HOSTNQN);
  const ci = parseConnectionInfo({ driver_volume_type: 'nvmeof', data: { target_nqn: nqn, vol_uuid: id, portals: portals.map((p) => [...p.split(':'), 'tcp']) } });
  return { id, nqn, ci };
}

/** The simulator's trace lines of `nvme connect`s to `address`. */
function connectsTo(sim: SimHost, address: string): string[] {
  return sim.sim.traceLines().filter((l) => / exec .* nvme connect /.test(l) && l.includes(`-a ${address} `));
}

function probeLines(sim: SimHost): string[] {
  return sim.sim.traceLines().filter((l) => l.includes(' probe tcp '));
}

describe('NVMe/TCP connector on the simulator', () => {
  it('nvme-dead-portal: probes both portals, connects only the one that answered, returns at the floor through the head; nothing left', async () => {
    const r = rig('nvme-dead-portal');
    const { id, nqn, ci } = deadPortalVolume(r.sim);
    const props = await r.brick.connectorProperties(r.span);
    expect(props).toMatchObject({ nqn: HOSTNQN, uuid: '7d0c7d2e-64f5-4f2c-a7a6-3c1f7b1e9d41', nvme_native_multipath: true });
    const t0 = r.sim.clock.now();
    const a = await r.brick.connect(ci, r.span, { instance: 'i-1' });
    const took = r.sim.clock.now() - t0;
    const floor = floorOf(r.sim, [P59, P60]);
    expect(took).toBeGreaterThanOrEqual(floor);
    expect(took).toBeLessThanOrEqual(floor + EPSILON_MS);
    // The dropped portal got no `nvme connect`: the live one made controller nvme0.
    expect(a.deviceInfo).toEqual({ type: 'block', path: '/dev/nvme0n1', nvme_ns: id });
    expect(a.source).toEqual({ kind: 'block', path: `/dev/disk/by-id/nvme-uuid.${id}` });
    expect(connectsTo(r.sim, '192.168.1.59')).toEqual([]);
    expect(r.sim.sim.traceLines().some((l) => l.includes('waits for nvmf_dev_mutex'))).toBe(false);
    // The dropped portal's probe ends after the return, and its watch goes on.
    await r.sim.clock.sleep(5_000);
    expect(r.logs).toContain(`warning nvme connect to 192.168.1.59:4420 for ${nqn} deferred: no TCP answer within 3000 ms; probing it again in the background`);
    await r.brick.settled();
    expect(r.sim.model.leftovers()).toEqual([`nvme controller nvme0 ${P60} ${nqn} live`, `nvme subsystem nvme-subsys0 ${nqn}`, `nvme namespace nvme0n1 ${id}`]);
    await r.brick.disconnect(ci, a.deviceInfo, r.span, { force: false });
    expect(r.logs).toContain(`info portal 192.168.1.59:4420 of ${nqn}: no longer probed (its volume is released)`);
    expect(r.sim.model.leftovers()).toEqual([]);
    expect(r.sim.model.vfs.readdir('/dev/disk/by-id').filter((l) => l.startsWith('nvme-'))).toEqual([]);
    // The watch is over: no probe after the detach, however long the host runs.
    const probes = probeLines(r.sim).length;
    await r.sim.clock.sleep(700_000);
    expect(probeLines(r.sim)).toHaveLength(probes);
  });

  it('a dropped portal that comes back is probed again with back-off and joins the head late, without blocking the return', async () => {
    const r = rig('nvme-dead-portal');
    const { id, nqn, ci } = deadPortalVolume(r.sim);
    const a = await r.brick.connect(ci, r.span, { instance: 'i-1' });
    const back = r.sim.clock.now() + 20_000;
    r.sim.sim.injectFault({ fault: 'portal-healthy', portal: P59, at: back });
    await r.sim.clock.sleep(60_000);
    // Probes at 0, then after 1, 2, 4, 8 s gaps (each silent one taking the 3 s probe timeout) … until one answers.
    const outcomes = probeLines(r.sim).filter((l) => l.includes('192.168.1.59')).map((l) => /probe tcp \S+ (\w+)/.exec(l)?.[1]);
    expect(outcomes.at(-1)).toBe('open');
    expect(outcomes.slice(0, -1).every((o) => o === 'timeout')).toBe(true);
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    expect(connectsTo(r.sim, '192.168.1.59')).toHaveLength(1);
    expect(r.logs.some((l) => l.startsWith(`info portal 192.168.1.59:4420 of ${nqn} answered probe ${outcomes.length} after`) && l.endsWith('connected, joining the subsystem late'))).toBe(true);
    const subsys = JSON.parse((await nvme(r.sim, ['list-subsys', '-o', 'json'])).stdout);
    expect(subsys[0].Subsystems[0].Paths.map((p: { Name: string; Address: string; State: string }) => `${p.Name} ${p.State} ${p.Address.split(',')[0]}`)).toEqual(['nvme0 live traddr=192.168.1.60', 'nvme1 live traddr=192.168.1.59']);
    expect(a.deviceInfo).toEqual({ type: 'block', path: '/dev/nvme0n1', nvme_ns: id });
    await r.brick.disconnect(ci, a.deviceInfo, r.span, { force: false });
    expect(r.sim.model.leftovers()).toEqual([]);
  });

  it('a silent portal is given up after nvmeLateJoinMs, logged; the volume keeps its live path', async () => {
    const sim = createSimHost('nvme-dead-portal');
    const logs: string[] = [];
    const brick = new Brick({ host: sim, ip: '192.168.1.100', multipath: true, nvmeTimeouts: { nvmeLateJoinMs: 30_000 }, logger: (l) => logs.push(`${l.level} ${l.message}`) });
    const { nqn, ci } = deadPortalVolume(sim);
    const span = new Trace(sim.clock).root();
    const a = await brick.connect(ci, span, { instance: 'i-1' });
    await sim.clock.sleep(60_000);
    expect(logs.some((l) => l.startsWith(`warning portal 192.168.1.59:4420 of ${nqn} given up: no TCP answer to `) && l.endsWith(' probes in 30000 ms'))).toBe(true);
    const probes = probeLines(sim).length;
    await sim.clock.sleep(60_000);
    expect(probeLines(sim)).toHaveLength(probes);
    expect(connectsTo(sim, '192.168.1.59')).toEqual([]);
    await brick.disconnect(ci, a.deviceInfo, span, { force: false });
    expect(sim.model.leftovers()).toEqual([]);
  });

  it('a refusing portal fails at once for itself (no nvme connect, no watch); the live one carries the volume', async () => {
    const sc = loadScenario('nvme-dead-portal');
    const r = rig({ ...sc, portals: { ...sc.portals, [P59]: { state: 'refusing' } } });
    const { nqn, ci } = deadPortalVolume(r.sim);
    const a = await r.brick.connect(ci, r.span, { instance: 'i-1' });
    expect(r.logs).toContain(`warning nvme connect to 192.168.1.59:4420 for ${nqn} skipped: TCP connect refused`);
    await r.sim.clock.sleep(60_000);
    expect(probeLines(r.sim).filter((l) => l.includes('192.168.1.59'))).toHaveLength(1);
    expect(connectsTo(r.sim, '192.168.1.59')).toEqual([]);
    await r.brick.disconnect(ci, a.deviceInfo, r.span, { force: false });
    expect(r.sim.model.leftovers()).toEqual([]);
  });

  it('every portal silent: the connect fails after the probe timeout with what each portal said, runs no nvme connect, and stops its watches', async () => {
    const sc = loadScenario('nvme-dead-portal');
    const r = rig({ ...sc, portals: { [P59]: { state: 'dead' }, [P60]: { state: 'dead' } } });
    const { nqn, ci } = deadPortalVolume(r.sim);
    const t0 = r.sim.clock.now();
    await expect(r.brick.connect(ci, r.span, { instance: 'i-1' })).rejects.toThrow(/192\.168\.1\.59:4420: no TCP answer within 3000 ms; 192\.168\.1\.60:4420: no TCP answer within 3000 ms|192\.168\.1\.60:4420: no TCP answer within 3000 ms; 192\.168\.1\.59:4420: no TCP answer within 3000 ms/);
    expect(r.sim.clock.now() - t0).toBeLessThan(r.sim.sim.latency.nvmeSynTimeoutMs + 1_000);
    expect(r.sim.sim.traceLines().filter((l) => / nvme connect /.test(l) && l.includes(nqn))).toEqual([]);
    const probes = probeLines(r.sim).length;
    await r.sim.clock.sleep(60_000);
    expect(probeLines(r.sim)).toHaveLength(probes);
    expect(r.sim.model.leftovers()).toEqual([]);
  });

  it('the kernel\'s lock, without the probe: the dropped portal\'s connect, first to the lock, holds the live one for its SYN timeout; live first, the floor', async () => {
    const run = async (portals: string[]) => {
      const sim = createSimHost('nvme-dead-portal', { tcpProbe: false });
      const brick = new Brick({ host: sim, ip: '192.168.1.100', multipath: true });
      const { ci } = deadPortalVolume(sim, portals);
      const t0 = sim.clock.now();
      const a = await brick.connect(ci, new Trace(sim.clock).root(), { instance: 'i-1' });
      const took = sim.clock.now() - t0;
      await brick.settled();
      return { sim, took, a, waits: sim.sim.traceLines().filter((l) => l.includes('waits for nvmf_dev_mutex')) };
    };
    const floor = floorOf(createSimHost('nvme-dead-portal'), [P59, P60]);
    const deadFirst = await run([P59, P60]);
    const L = deadFirst.sim.sim.latency;
    expect(deadFirst.waits.map((l) => l.trim().split(' ').slice(1).join(' '))).toEqual(['compute-1 nvme connect 192.168.1.60:4420 waits for nvmf_dev_mutex']);
    expect(deadFirst.took).toBeGreaterThanOrEqual(L.nvmeSynTimeoutMs + L.nvmeConnectRttMs);
    expect(deadFirst.took).toBeGreaterThan(floor + L.nvmeSynTimeoutMs - EPSILON_MS);
    // The dead portal's controller was created first and went when its connect failed: the live one reuses nvme0.
    expect(deadFirst.a.deviceInfo).toMatchObject({ path: '/dev/nvme0n1' });
    const liveFirst = await run([P60, P59]);
    expect(liveFirst.waits.map((l) => l.trim().split(' ').slice(1).join(' '))).toEqual(['compute-1 nvme connect 192.168.1.59:4420 waits for nvmf_dev_mutex']);
    expect(liveFirst.took).toBeLessThanOrEqual(floor + EPSILON_MS);
    expect(liveFirst.a.deviceInfo).toMatchObject({ path: '/dev/nvme0n1' });
  });

  it('two volumes on one subsystem: one head each over both controllers; detaching one keeps the controllers for the other', async () => {
    const r = rig(scenario());
    const a = await r.brick.connect(info(UA), r.span, { instance: 'i-1' });
    await r.brick.settled();
    const b = await r.brick.connect(info(UB), r.span, { instance: 'i-1' });
    expect(a.deviceInfo).toMatchObject({ path: '/dev/nvme0n1' });
    expect(b.deviceInfo).toMatchObject({ path: '/dev/nvme0n2' });
    const subsys = JSON.parse((await nvme(r.sim, ['list-subsys', '-o', 'json'])).stdout);
    expect(subsys[0].Subsystems[0].Paths.map((p: { Name: string; State: string }) => `${p.Name} ${p.State}`)).toEqual(['nvme0 live', 'nvme1 live']);
    await r.brick.disconnect(info(UA), a.deviceInfo, r.span, { force: false });
    expect(r.sim.model.nvme?.ctrlList().map((c) => c.name)).toEqual(['nvme0', 'nvme1']);
    expect(r.sim.model.vfs.exists(`/dev/disk/by-id/nvme-uuid.${UB}`)).toBe(true);
    await r.brick.disconnect(info(UB), b.deviceInfo, r.span, { force: false });
    expect(r.sim.model.leftovers()).toEqual([]);
  });

  it('a restart of Hitch between attach and detach: detaching one namespace still keeps the controllers the other uses (the claims outlive the process)', async () => {
    const r = rig(scenario());
    const a = await r.brick.connect(info(UA), r.span, { instance: 'i-1' });
    await r.brick.connect(info(UB), r.span, { instance: 'i-2' });
    await r.brick.settled();
    expect(JSON.parse(r.sim.model.vfs.read('/etc/nvme/hitch-claims.json'))).toEqual({ [NQN]: [UA, UB] });
    // A new process: a Brick with nothing in memory, on the same host.
    const logs: string[] = [];
    const after = new Brick({ host: r.sim, ip: '192.168.1.100', multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`) });
    await after.disconnect(info(UA), a.deviceInfo, r.span, { force: false });
    expect(logs).toContain(`info Keeping the controllers of ${NQN}: namespace(s) ${UB} still attached`);
    expect(r.sim.model.nvme?.ctrlList().map((c) => `${c.name} ${c.state}`)).toEqual(['nvme0 live', 'nvme1 live']);
    expect(r.sim.model.vfs.exists(`/dev/disk/by-id/nvme-uuid.${UB}`)).toBe(true);
    await after.disconnect(info(UB), null, r.span, { force: false });
    expect(r.sim.model.leftovers()).toEqual([]);
    expect(JSON.parse(r.sim.model.vfs.read('/etc/nvme/hitch-claims.json'))).toEqual({});
  });

  it('without native multipath: a device per controller (nvme<ctrl>n<k>), no head; brick returns the first live one', async () => {
    const r = rig(scenario({ native: false }));
    const a = await r.brick.connect(info(UA), r.span, { instance: 'i-1' });
    await r.brick.settled();
    expect(a.deviceInfo).toMatchObject({ path: expect.stringMatching(/^\/dev\/nvme[01]n1$/) });
    const list = JSON.parse((await nvme(r.sim, ['list', '-o', 'json'])).stdout);
    expect(list.Devices.map((d: { DevicePath: string }) => d.DevicePath)).toEqual(['/dev/nvme1n2', '/dev/nvme1n1', '/dev/nvme0n2', '/dev/nvme0n1']);
    await r.brick.disconnect(info(UA), a.deviceInfo, r.span, { force: false });
    expect(r.sim.model.leftovers()).toEqual([]);
  });
});

describe('the simulated kernel and nvme-cli (as recorded in the storage host guest)', () => {
  it('answers connect, already connected, refused, wrong NQN and a dropped portal with nvme-cli 2.3\'s exit codes and texts', async () => {
    const sc = scenario();
    const sim = createSimHost({ ...sc, portals: { ...sc.portals, '192.168.1.61:4420': { state: 'refusing' }, '192.168.1.62:4420': { state: 'dead' } } });
    const c = (addr: string, nqn = NQN) => ['connect', '-t', 'tcp', '-a', addr, '-s', '4420', '-n', nqn, '-q', HOSTNQN];
    expect(await nvme(sim, ['list-subsys', '-o', 'json'])).toEqual({ code: 0, stdout: '[\n]\n', stderr: '' });
    expect(await nvme(sim, ['list', '-o', 'json'])).toEqual({ code: 0, stdout: '{\n  "Devices":[\n  ]\n}\n', stderr: '' });
    expect(await nvme(sim, c('192.168.1.59'))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await nvme(sim, c('192.168.1.59'))).toEqual({ code: 1, stdout: '', stderr: 'already connected\n' });
    expect(await nvme(sim, c('192.168.1.61'))).toEqual({ code: 1, stdout: '', stderr: 'Failed to write to /dev/nvme-fabrics: Connection refused\ncould not add new controller: connection refused\n' });
    expect(await nvme(sim, c('192.168.1.59', 'nqn.2014-08.org.hitch:nope'))).toEqual({ code: 1, stdout: '', stderr: 'Failed to write to /dev/nvme-fabrics: Input/output error\ncould not add new controller: failed to write to nvme-fabrics device\n' });
    const t0 = sim.clock.now();
    expect(await nvme(sim, c('192.168.1.62'))).toEqual({ code: 1, stdout: '', stderr: 'Failed to write to /dev/nvme-fabrics: Connection timed out\ncould not add new controller: failed to write to nvme-fabrics device\n' });
    expect(sim.clock.now() - t0).toBeGreaterThanOrEqual(sim.sim.latency.nvmeSynTimeoutMs);
    // Failed connects leave no controller; the one live controller keeps nvme0.
    expect(sim.model.nvme?.ctrlList().map((x) => `${x.name} ${x.state}`)).toEqual(['nvme0 live']);
    expect(sim.model.vfs.read('/sys/class/nvme/nvme0/address')).toBe('traddr=192.168.1.59,trsvcid=4420,src_addr=192.168.1.100\n');
    expect(await nvme(sim, ['disconnect', '-n', NQN])).toEqual({ code: 0, stdout: `NQN:${NQN} disconnected 1 controller(s)\n`, stderr: '' });
    expect(await nvme(sim, ['disconnect', '-n', NQN])).toEqual({ code: 0, stdout: `NQN:${NQN} disconnected 0 controller(s)\n`, stderr: '' });
    expect(sim.model.leftovers()).toEqual([]);
  });

  it('a portal dropped under a live controller: resetting, then connecting without src_addr, then removed after ctrl_loss_tmo / reconnect_delay failed reconnects', async () => {
    const sim = createSimHost(scenario());
    const conn = (addr: string, extra: string[] = []) => nvme(sim, ['connect', '-t', 'tcp', '-a', addr, '-s', '4420', '-n', NQN, '-q', HOSTNQN, ...extra]);
    await conn('192.168.1.59');
    await conn('192.168.1.60', ['--ctrl-loss-tmo', '10', '--reconnect-delay', '2']);
    const state = () => sim.model.vfs.read('/sys/class/nvme/nvme1/state').trim();
    const dropAt = sim.clock.now();
    sim.sim.injectFault({ fault: 'portal-dead', portal: P60 });
    const L = sim.sim.latency;
    await sim.clock.sleep(L.nvmeKeepAliveLossMs - 1);
    expect(state()).toBe('live');
    await sim.clock.sleep(2);
    expect(state()).toBe('resetting');
    await sim.clock.sleep(L.nvmeTeardownMs);
    expect(state()).toBe('connecting');
    expect(sim.model.vfs.read('/sys/class/nvme/nvme1/address')).toBe('traddr=192.168.1.60,trsvcid=4420\n');
    // Still in the subsystem while it reconnects: a second connect is refused as a duplicate.
    expect((await conn('192.168.1.60')).stderr).toBe('already connected\n');
    // 10 s / 2 s = 5 attempts, each the delay and a SYN timeout.
    const goneAt = dropAt + L.nvmeKeepAliveLossMs + L.nvmeTeardownMs + 5 * (2_000 + L.nvmeSynTimeoutMs);
    await sim.clock.sleep(goneAt - sim.clock.now() - 1);
    expect(state()).toBe('connecting');
    await sim.clock.sleep(2);
    expect(sim.model.vfs.exists('/sys/class/nvme/nvme1')).toBe(false);
    const subsys = JSON.parse((await nvme(sim, ['list-subsys', '-o', 'json'])).stdout);
    expect(subsys[0].Subsystems[0].Paths.map((p: { Name: string }) => p.Name)).toEqual(['nvme0']);
    // The head stays on the live controller.
    expect(sim.model.vfs.exists('/dev/nvme0n1')).toBe(true);
  });

  it('a portal back while reconnecting: live again at the next attempt', async () => {
    const sim = createSimHost(scenario());
    await nvme(sim, ['connect', '-t', 'tcp', '-a', '192.168.1.60', '-s', '4420', '-n', NQN, '-q', HOSTNQN]);
    const L = sim.sim.latency;
    sim.sim.injectFault({ fault: 'portal-dead', portal: P60, until: L.nvmeKeepAliveLossMs + L.nvmeTeardownMs + 1_000 });
    await sim.clock.sleep(L.nvmeKeepAliveLossMs + L.nvmeTeardownMs + 500);
    expect(sim.model.vfs.read('/sys/class/nvme/nvme0/state')).toBe('connecting\n');
    await sim.clock.sleep(10_000 + L.nvmeConnectRttMs + 10);
    expect(sim.model.vfs.read('/sys/class/nvme/nvme0/state')).toBe('live\n');
  });

  it('the subsystem keeps its controller\'s number: a new controller after that one went takes the next', async () => {
    const sim = createSimHost(scenario());
    const conn = (addr: string) => nvme(sim, ['connect', '-t', 'tcp', '-a', addr, '-s', '4420', '-n', NQN, '-q', HOSTNQN]);
    await conn('192.168.1.59');
    await conn('192.168.1.60');
    await nvme(sim, ['disconnect', '-d', 'nvme0']);
    await conn('192.168.1.59');
    expect(sim.model.nvme?.ctrlList().map((c) => c.name)).toEqual(['nvme1', 'nvme2']);
    expect(sim.model.vfs.readdir('/sys/class/nvme-subsystem')).toEqual(['nvme-subsys0']);
  });

  it('the built-in NVMe scenarios load', () => {
    for (const n of ['nvme-healthy', 'nvme-dead-portal', 'nvme-no-native-multipath']) expect(loadScenario(n).arrays[0]?.protocol).toBe('nvmeof');
  });
});
