/**
 * The simulator's NVMe/TCP held to the real host: the storage host guest's recording
 * (`testdata/nvme/guest-record.json`, `test/storage-host/nvme-record.guest.ts`: Linux 6.1,
 * nvme-cli 2.3, nvmet on 127.0.0.1:4420 and 127.0.0.2:4420, nothing on 127.0.0.3) replayed
 * step by step on a simulated host set up the same way; every answer compared with what the
 * real host gave, byte for byte. Where the two may differ, the test says why.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Scenario } from './scenario.ts';
import { createSimHost, type SimHost } from './sim-host.ts';

interface Run {
  readonly argv: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const REC = (JSON.parse(readFileSync(new URL('./testdata/nvme/guest-record.json', import.meta.url), 'utf8')) as { record: Record<string, unknown> }).record;
const run = (k: string): Run => REC[k] as Run;
const NQN = 'nqn.2014-08.org.hitch:vol-record';
const HOSTNQN = String(REC['hostnqn']).trim();
const HOSTID = String(REC['hostid']).trim();

function guest(native: boolean): SimHost {
  const sc: Scenario = {
    name: 'nvme-record',
    seed: 1,
    portals: { '127.0.0.1:4420': { state: 'healthy' }, '127.0.0.2:4420': { state: 'healthy' }, '127.0.0.3:4420': { state: 'refusing' } },
    arrays: [
      {
        name: 'nvmet',
        portals: ['127.0.0.1:4420', '127.0.0.2:4420'],
        subsystems: [
          {
            nqn: NQN,
            serial: '19a06e76d54040bd4a77',
            allowAnyHost: true,
            namespaces: [
              { nsid: 1, uuid: '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a51', sizeBytes: 64 * 1024 ** 2 },
              { nsid: 2, uuid: '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a52', sizeBytes: 32 * 1024 ** 2 },
            ],
          },
        ],
      },
    ],
    hosts: [{ name: 'hitch-storage-host', initiator: 'iqn.1993-08.org.debian:01:hitch-storage-host', ip: '127.0.0.1', multipathd: false, nvmeHostNqn: HOSTNQN, nvmeHostId: HOSTID, nvmeNativeMultipath: native }],
  };
  return createSimHost(sc);
}

/** Run the recorded command line on the simulator and compare its whole answer. */
async function same(sim: SimHost, key: string): Promise<void> {
  const r = run(key);
  const [cmd = '', ...args] = r.argv.split(' ');
  const got = await sim.exec(cmd, args, { okCodes: 'any', timeoutMs: 300_000 });
  expect({ code: got.code, stdout: got.stdout, stderr: got.stderr }, key).toEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr });
}

/** `name -> ../../dev` as the recording lists links. */
function links(sim: SimHost, dir: string): Record<string, string> {
  const v = sim.model.vfs;
  return Object.fromEntries(v.readdir(dir).filter((e) => e.startsWith('nvme-')).map((e) => [e, `-> ${v.readlink(`${dir}/${e}`)}`]));
}

describe('the simulated NVMe/TCP host answers as the storage host guest did (native multipath)', () => {
  it('host identity, empty lists, connects (ok, again, refused, wrong NQN), list and list-subsys, sysfs and udev', async () => {
    const sim = guest(true);
    expect(sim.model.vfs.read('/etc/nvme/hostnqn')).toBe(REC['hostnqn']);
    expect(sim.model.vfs.read('/etc/nvme/hostid')).toBe(REC['hostid']);
    expect(sim.model.vfs.read('/sys/module/nvme_core/parameters/multipath')).toBe(REC['multipathParam']);
    for (const k of ['version', 'showHostnqn', 'listEmpty', 'listSubsysEmpty', 'connect1', 'connect1again', 'connect2', 'connectRefused', 'connectWrongNqn']) await same(sim, k);
    await sim.clock.sleep(5_000); // udevadm settle
    for (const k of ['list', 'listSubsys', 'listSubsysDev']) await same(sim, k);
    const v = sim.model.vfs;
    expect(Object.fromEntries(v.readdir('/sys/class/nvme-subsystem').map((e) => [e, `-> ${v.readlink(`/sys/class/nvme-subsystem/${e}`)}`]))).toEqual(REC['sysNvmeSubsystem']);
    expect(Object.fromEntries(v.readdir('/sys/class/nvme').map((e) => [e, `-> ${v.readlink(`/sys/class/nvme/${e}`)}`]))).toEqual(REC['sysNvme']);
    expect(v.readdir('/sys/class/block').filter((b) => b.startsWith('nvme')).sort()).toEqual((REC['sysBlock'] as string[]).filter((b) => b.startsWith('nvme')));
    expect(['nvme-fabrics', ...v.readdir('/dev').filter((n) => /^nvme\d/.test(n))].sort()).toEqual(REC['devNvme']);
    // `nvme-Linux_<serial>` (no nsid) is claimed by every namespace of the subsystem: which one
    // udev lets have it is a race (nvme0n1 here, nvme0n2 in the run without native multipath).
    const recorded = Object.fromEntries(Object.entries(REC['byId'] as Record<string, string>).filter(([k]) => k.startsWith('nvme-') && k !== 'nvme-Linux_19a06e76d54040bd4a77'));
    const { ['nvme-Linux_19a06e76d54040bd4a77']: raced, ...mine } = links(sim, '/dev/disk/by-id');
    expect(mine).toEqual(recorded);
    expect(raced).toMatch(/^-> \.\.\/\.\.\/nvme0n[12]$/);
  });

  it('a portal dropped under its controller: live, resetting, connecting without src_addr, removed; list-subsys, a connect to it, disconnects', async () => {
    const sim = guest(true);
    for (const k of ['connect1', 'connect2']) await same(sim, k);
    const observed: string[] = [];
    const state = (): string =>
      sim.model.vfs
        .readdir('/sys/class/nvme')
        .sort()
        .map((c) => `${c}=${sim.model.vfs.read(`/sys/class/nvme/${c}/state`).trim()}@${sim.model.vfs.read(`/sys/class/nvme/${c}/address`).trim()}`)
        .join(' ');
    sim.sim.injectFault({ fault: 'portal-dead', portal: '127.0.0.2:4420' });
    for (let i = 0; i < 60; i++) {
      const s = state();
      if (observed.at(-1) !== s) observed.push(s);
      if (sim.model.vfs.readdir('/sys/class/nvme').length < 2) break;
      await sim.clock.sleep(1_000);
    }
    // The recording's distinct states, in order (it polled once a second).
    const real = (REC['dropStates'] as string[]).map((l) => l.replace(/^\d+ms /, '')).filter((s, i, a) => a[i - 1] !== s);
    expect(observed).toEqual(real);
    for (const k of ['listSubsysAfterDrop', 'connectDropped']) await same(sim, k);
    sim.sim.injectFault({ fault: 'portal-healthy', portal: '127.0.0.2:4420' });
    for (const k of ['disconnectDev', 'disconnectNqn', 'disconnectNqnAgain']) await same(sim, k);
    await sim.clock.sleep(5_000);
    expect({ controllers: sim.model.vfs.readdir('/sys/class/nvme'), subsystems: sim.model.vfs.readdir('/sys/class/nvme-subsystem'), devices: sim.model.vfs.readdir('/sys/class/block').filter((b) => b.startsWith('nvme')) }).toEqual(REC['leftoversAfterDisconnect']);
  });
});

describe('the simulated NVMe/TCP host answers as the storage host guest did (nvme_core.multipath=N)', () => {
  it('a device per controller; list as recorded; list-subsys with the same paths; disconnect -n counts both', async () => {
    const sim = guest(false);
    expect(sim.model.vfs.read('/sys/module/nvme_core/parameters/multipath')).toBe(REC['multipathParamOff']);
    for (const k of ['connectNoMp1', 'connectNoMp2']) await same(sim, k);
    await sim.clock.sleep(5_000);
    await same(sim, 'listNoMp');
    // The paths of list-subsys: the same, but the real host listed nvme1 before nvme0 in this
    // run and nvme0 first with native multipath; the simulator lists them by number.
    const got = JSON.parse((await sim.exec('nvme', ['list-subsys', '-o', 'json'], { okCodes: 'any' })).stdout) as Array<{ Subsystems: Array<{ Paths: Array<{ Name: string }> }> }>;
    const real = JSON.parse(run('listSubsysNoMp').stdout) as typeof got;
    const byName = (x: typeof got) => x.map((h) => ({ ...h, Subsystems: h.Subsystems.map((s) => ({ ...s, Paths: [...s.Paths].sort((a, b) => a.Name.localeCompare(b.Name)) })) }));
    expect(byName(got)).toEqual(byName(real));
    expect(Object.fromEntries(sim.model.vfs.readdir('/sys/class/nvme').map((e) => [e, `-> ${sim.model.vfs.readlink(`/sys/class/nvme/${e}`)}`]))).toEqual(REC['sysNvmeNoMp']);
    await same(sim, 'disconnectNoMp');
    expect(sim.model.leftovers()).toEqual([]);
  });
});
