/**
 * The storage-host suite: Hitch's brick on a real Linux storage host — Debian 12's kernel, udev,
 * iscsid, multipathd and tgt in a QEMU guest (scripts/build-storage-host.sh) — through the real
 * Host port (`LinuxHost`, kernel attach mode). One boot runs every case (cases.guest.ts), each
 * from a clean start; each `it` below judges one case as soon as the guest reports it.
 *
 * `npm test` runs this file in a phase of its own (scripts/run-tests.mjs), so the guest has the
 * machine's two cores to itself. Outside CI a machine that cannot boot the guest (not root, no
 * QEMU or debootstrap) skips it with a message; under CI=true that is a failure.
 *
 * HITCH_STORAGE_HOST_REPEATS sets the consecutive healthy two-portal connects per find_multipaths
 * setting: 20, as issue 16 asks, under CI=true too (a cycle — connect, I/O through the map,
 * disconnect — is ≈ 4 s on an idle 2-core machine: the 60 cycles cost ≈ 4 min; a loaded machine
 * takes 3–10× as long).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingGuestPeers, runGuest, storageHostImage, type GuestCaseResult, type GuestRun, type GuestCaseSpec } from '../../src/test-support/storage-host/guest.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { FIDELITY_CASES, FIDELITY_ENTRY, fidelitySuite } from './fidelity.ts';

const missing = missingGuestPeers();
if (missing.length > 0 && !peerRequired()) {
  console.warn(`storage-host suite skipped: missing ${missing.join(', ')} (bash scripts/install-test-peers.sh installs them)`);
}
const suite = missing.length > 0 && !peerRequired() ? describe.skip : describe;

const REPEATS = Number(process.env['HITCH_STORAGE_HOST_REPEATS'] ?? 20);
const FINDS = ['no', 'yes', 'strict'] as const;

const CASES: GuestCaseSpec[] = [
  { name: 'smoke' },
  { name: 'healthy-single' },
  { name: 'bad-input' },
  ...FINDS.map((find) => ({ name: `healthy-multipath-${find}`, case: 'healthy-multipath', params: { find, repeats: REPEATS } })),
  { name: 'multipathd-reads-late', params: { repeats: 5 } },
  ...FINDS.map((find) => ({ name: `seed-${find}`, case: 'seed', params: { find } })),
  // The late path per setting: the drop lifts 6 s after the connect began, while iscsid still retries (10 s × 3).
  ...(['yes', 'strict'] as const).map((find) => ({ name: `seed-late-${find}`, case: 'seed', params: { find, pending: true, liftAfterMs: 6_000 } })),
  // The one run with open-iscsi's default login timeouts (15 s × 8): the late path logs in 20 s after the connect began.
  { name: 'seed-defaults-late-path', case: 'seed', params: { find: 'no', defaults: true, liftAfterMs: 20_000 } },
  ...FINDS.map((find) => ({ name: `detach-pending-${find}`, case: 'detach-pending', params: { find } })),
  { name: 'map-never-stopped', case: 'map-never', params: { how: 'stopped' } },
  { name: 'map-never-blacklisted', case: 'map-never', params: { how: 'blacklisted' } },
  { name: 'path-lost' },
  { name: 'chap' },
  { name: 'concurrent-10' },
  // NVMe/TCP against the kernel's nvmet (nvme.guest.ts): about 100 s of the boot under TCG.
  { name: 'nvme-dead-portal' },
  { name: 'nvme-shared-subsystem' },
  { name: 'nvme-bad-input' },
  // Hitch's own services in the guest (nvme-api.guest.ts): two clouds, about 40 s under TCG.
  { name: 'nvme-api-dead-portal' },
];

const log = (s: string): void => console.log(`[storage-host] ${s}`);

suite('storage host (real kernel, udev, iscsid, multipathd, tgt in a QEMU guest)', () => {
  let run: GuestRun | null = null;
  const t0 = Date.now();

  beforeAll(() => {
    if (missing.length > 0) throw new Error(`storage-host peers missing under CI: ${missing.join(', ')}`);
    const image = storageHostImage();
    log(`image ${image.dir} ready in ${Date.now() - t0} ms: ${JSON.stringify(image.versions)}`);
    run = runGuest({
      image,
      entry: ['test/storage-host/cases.guest.ts', FIDELITY_ENTRY],
      cases: [...CASES, ...FIDELITY_CASES],
      // The boot's bound (the wait for the guest lock included): 50 min, or HITCH_GUEST_TIMEOUT_MS on a loaded machine.
      timeoutMs: Number(process.env['HITCH_GUEST_TIMEOUT_MS'] ?? 50 * 60_000),
      onLine: (l) => {
        if (/HITCH-|FAILED|\] \d+\/\d+:|drop lifted|waiting/.test(l)) log(l.trim());
      },
    });
  }, 1_500_000);

  afterAll(async () => {
    if (!run) return;
    const r = await run.done.catch((e: unknown) => ({ results: [], wallMs: Date.now() - t0, error: String(e) }));
    log(`guest boot: ${Math.round(r.wallMs / 1000)} s for ${r.results.length} case(s); marks ${JSON.stringify(run.marks)}; console ${run.consoleLog}`);
  }, 3_600_000);

  const result = async (name: string): Promise<GuestCaseResult & { data: any }> => {
    if (!run) throw new Error('the guest did not start');
    const r = await run.result(name);
    log(`${name}: ${r.ok ? 'ok' : 'FAILED'} in ${r.ms} ms (clean start ${r.resetMs} ms)`);
    if (!r.ok) throw new Error(`case ${name} failed in the guest:\n${r.error}`);
    return r as GuestCaseResult & { data: any };
  };
  const CASE_MS = 3_600_000;
  const clean = { sessions: [], nodes: [], disks: [], maps: [] };

  it('boots Debian 12 with iscsid, multipathd and tgt answering, and nothing attached', async () => {
    const { data } = await result('smoke');
    expect(data.kernel).toMatch(/^6\.1\./);
    expect(data.iscsiadm).toMatch(/iscsiadm version 2\./);
    expect(data.multipathdStatus).toMatch(/path checker states|paths:/);
    expect(data.leftovers).toEqual(clean);
  }, CASE_MS);

  it('single path: the disk, I/O, nothing left', async () => {
    const { data } = await result('healthy-single');
    expect(data.connect.path).toMatch(/^\/dev\/sd[a-z]+$/);
    expect(data.io.readMb).toBe(1);
    expect(data.left).toEqual(clean);
  }, CASE_MS);

  it('bad input: a clear error, no command for malformed input, nothing left', async () => {
    const { data } = await result('bad-input');
    const [iqn, portal, noTarget, noLun] = data.attempts;
    expect(iqn.error).toMatch(/^HITCH_INVALID_CONNECTION_INFO: .*target_iqn/);
    expect(iqn.commands).toBe(0);
    expect(portal.error).toMatch(/^HITCH_INVALID_CONNECTION_INFO: .*target_portal/);
    expect(portal.commands).toBe(0);
    expect(noTarget.error).toMatch(/^HITCH_ISCSI_LOGIN_FAILED: /);
    expect(noLun.error).toMatch(/^HITCH_DEVICE_NOT_FOUND: /);
    for (const a of data.attempts) expect(a.left, a.what).toEqual(clean);
  }, CASE_MS);

  it('multipathd reading the first disk late: the map built from the other disk, returned with both paths', async () => {
    const { data } = await result('multipathd-reads-late');
    expect(data.runs.length).toBeGreaterThan(0);
    // The ordering happened (when brick found the map, its own disk was not in it) in most
    // connects: 5 of 6 in the trial runs; the rest found the map once both paths were in.
    const reordered = data.runs.filter((r: any) => !r.pathsWhenFound.split(',').includes(r.winner));
    expect(reordered.length, JSON.stringify(data.runs)).toBeGreaterThan(0);
    data.runs.forEach((r: any, i: number) => {
      const at = `connect ${i + 1}: ${JSON.stringify(r)}`;
      expect(r.path, at).toMatch(/^\/dev\/dm-\d+$/);
      expect(r.pathsAtReturn, at).toBe(2);
      expect(r.rawUnderMap, at).toBe(false);
      expect(r.left, at).toEqual(clean);
    });
    log(`multipathd reading late: ${data.runs.length} connects, the map found without brick's disk in ${reordered.length}, both paths at the return in ${data.runs.filter((r: any) => r.pathsAtReturn === 2).length}; connect ${data.runs.map((r: any) => r.ms).join('/')} ms`);
  }, CASE_MS);

  for (const find of FINDS) {
    it(`find_multipaths ${find}: ${REPEATS} consecutive two-portal connects each return the map with both paths, never a disk under a map`, async () => {
      const { data } = await result(`healthy-multipath-${find}`);
      expect(data.runs).toHaveLength(REPEATS);
      const ms = data.runs.map((r: any) => r.ms).sort((a: number, b: number) => a - b);
      log(`find_multipaths ${find}: connect median ${ms[Math.floor(ms.length / 2)]} ms (min ${ms[0]}, max ${ms[ms.length - 1]}), both paths at return in ${data.runs.filter((r: any) => r.pathsAtReturn === 2).length}/${REPEATS}; the kernel's map one path short the moment brick settled in ${data.runs.filter((r: any) => r.diagnosis).length}/${REPEATS} (max ${Math.max(0, ...data.runs.map((r: any) => r.diagnosis?.afterMs ?? 0))} ms to follow)`);
      data.runs.forEach((r: any, i: number) => {
        const at = `connect ${i + 1} of ${REPEATS}: ${JSON.stringify(r)}`;
        expect(r.path, at).toMatch(/^\/dev\/dm-\d+$/);
        expect(r.rawUnderMap, at).toBe(false);
        // Both portals answer brick's TCP probe: the return waits for both paths in the map, the
        // winner's own included. (Until 2026-12-06 it did not: when multipathd read the other
        // disk's udev event first it built the map on that disk alone and added the winner ~1 s
        // later, and brick, finding the map by its WWN, returned it with one path — 2 of 60.)
        expect(r.pathsAtReturn, at).toBe(2);
        expect(r.pathsSettled, at).toBe(2);
        expect(r.left, at).toEqual(clean);
      });
    }, CASE_MS);

    it(`find_multipaths ${find}: the seed returns the map on its one live path; after iscsid gave up nothing of the dead portal remains`, async () => {
      const { data } = await result(`seed-${find}`);
      expect(data.atReturn.path, JSON.stringify(data.atReturn)).toMatch(/^\/dev\/dm-\d+$/);
      expect(data.atReturn.paths).toHaveLength(1);
      expect(data.afterGiveUpLeft.sessions.filter((s: string) => s.includes('127.0.0.2'))).toEqual([]);
      expect(data.afterGiveUpLeft.nodes.filter((s: string) => s.includes('127.0.0.2'))).toEqual([]);
      expect(data.afterGiveUpLeft.disks).toHaveLength(1);
      expect(data.left).toEqual(clean);
    }, CASE_MS);

    it(`find_multipaths ${find}: a detach during a pending login leaves no session, even after the portal comes back`, async () => {
      const { data } = await result(`detach-pending-${find}`);
      expect(data.gaveUpPending, 'the detach came while the dead login was still pending').toBe(true);
      expect(data.leftAtDetach).toEqual(clean);
      expect(data.afterGiveUpLeft).toEqual(clean);
      expect(data.sessionsTo2).toEqual([]);
    }, CASE_MS);
  }

  for (const [name, what] of [
    ['seed-defaults-late-path', 'find_multipaths no, default login timeouts'],
    ['seed-late-yes', 'find_multipaths yes'],
    ['seed-late-strict', 'find_multipaths strict'],
  ] as const) {
    it(`the seed (${what}): usable on the map's one live path, and the path that logs in later joins that map`, async () => {
      const { data } = await result(name);
      log(`${name}: usable in ${data.usableMs} ms; late path joined ${data.joined?.afterLiftMs} ms after the drop lifted`);
      expect(data.atReturn.path, JSON.stringify(data.atReturn)).toMatch(/^\/dev\/dm-\d+$/);
      expect(data.atReturn.paths).toHaveLength(1);
      expect(data.joined?.paths, JSON.stringify(data.commandTrail?.slice(-20))).toHaveLength(2);
      expect(data.log.filter((l: string) => l.includes('did not join'))).toEqual([]);
      expect(data.left).toEqual(clean);
    }, CASE_MS);
  }

  for (const how of ['stopped', 'blacklisted'] as const) {
    it(`map never built (multipathd ${how === 'stopped' ? 'stopped' : 'blacklisting every WWID'}): the path disk, I/O, nothing left`, async () => {
      const { data } = await result(`map-never-${how}`);
      expect(data.connect.path).toMatch(/^\/dev\/sd[a-z]+$/);
      expect(data.connect.rawUnderMap).toBe(false);
      expect(data.left).toEqual(clean);
    }, CASE_MS);
  }

  it('a path lost after the attach: I/O through the map goes on, the path comes back', async () => {
    const { data } = await result('path-lost');
    expect(data.failed).not.toBeNull();
    expect(data.ioDuring.readMb).toBe(2);
    expect(data.left).toEqual(clean);
  }, CASE_MS);

  it('CHAP: a wrong secret fails clearly and leaves nothing; the right one attaches; no secret in logs', async () => {
    const { data } = await result('chap');
    expect(data.wrongError).toMatch(/^HITCH_ISCSI_(AUTH|LOGIN)_FAILED/);
    expect(data.afterWrong).toEqual(clean);
    expect(data.connect.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(data.secretLogged).toBe(false);
    expect(data.left).toEqual(clean);
  }, CASE_MS);

  it('10 concurrent attaches to 10 targets, one with a dead portal: all usable through their maps, nothing left', async () => {
    const { data } = await result('concurrent-10');
    log(`concurrent-10: all usable in ${data.allMs} ms; paths per map at return ${data.maps.join(',')}, settled ${data.mapsSettled.join(',')}`);
    for (const d of data.devices) expect(d.path).toMatch(/^\/dev\/dm-\d+$/);
    expect(data.mapsSettled.filter((n: number) => n === 2)).toHaveLength(9);
    expect(data.left).toEqual(clean);
    expect(data.afterGiveUpLeft).toEqual(clean);
  }, CASE_MS);

  const nvmeClean = { controllers: [], subsystems: [], devices: [] };

  it('NVMe/TCP through Hitch\'s nvmet backend and brick, two portals, one dropped by nftables: usable through the native multipath head on the live one; after detach no controller, subsystem or device', async () => {
    const { data } = await result('nvme-dead-portal');
    log(`nvme-dead-portal: healthy path (one portal) usable in ${data.healthy.ms} ms; two portals with one dropped in ${data.dead.ms} ms (${(data.dead.ms / data.healthy.ms).toFixed(2)}×); probes ${JSON.stringify(data.dead.probes)}; nvme connects ${JSON.stringify(data.dead.attachCommands.filter((c: string) => c.startsWith('nvme connect')).map((c: string) => c.replace(/ -n .* →/, ' →')))}`);
    expect(data.props.nqn).toMatch(/^nqn\.2014-08\.org\.nvmexpress:uuid:/);
    expect(data.props.native).toBe(true);
    expect(data.healthy.path).toMatch(/^\/dev\/nvme\d+n\d+$/);
    expect(data.healthy.io.readMb).toBe(1);
    expect(data.leftAfterHealthy).toEqual(nvmeClean);
    // The head, not a per-controller path (nvmeXcYnZ), behind udev's stable link.
    expect(data.dead.path).toMatch(/^\/dev\/nvme\d+n\d+$/);
    expect(data.dead.source).toBe(`/dev/disk/by-id/nvme-uuid.${data.volumeId}`);
    // Hitch's nvmet backend answered with both portals for a multipath connector, one otherwise.
    expect(data.portals).toEqual([['127.0.0.1', '4420', 'tcp'], ['127.0.0.2', '4420', 'tcp']]);
    expect(data.singlePortals).toEqual([['127.0.0.1', '4420', 'tcp']]);
    // Both portals were probed; only the live one answered and got an nvme connect: the dropped
    // one never held the kernel's controller-creation lock (nvmf_dev_mutex). Its probe timed
    // out after the attach returned; it is watched until the detach stops it.
    // (The dropped portal's watch may have started a second probe before the detach stopped it.)
    const firstProbe = (portal: string): string | undefined => (data.dead.probes as string[]).find((p) => p.startsWith(`${portal} `));
    expect(firstProbe('127.0.0.1:4420')).toMatch(/ open /);
    expect(firstProbe('127.0.0.2:4420')).toMatch(/ timeout /);
    expect(data.dead.attachCommands.filter((c: string) => c.startsWith('nvme connect'))).toHaveLength(1);
    expect(data.dead.attachCommands.find((c: string) => c.includes('-a 127.0.0.2'))).toBeUndefined();
    expect(data.logs.some((l: string) => l.includes('nvme connect to 127.0.0.2:4420') && l.includes('deferred: no TCP answer'))).toBe(true);
    // The attach returned on the live portal: its own connect is among what ran before the return.
    expect(data.dead.commands.find((c: string) => c.startsWith('nvme connect') && c.includes('-a 127.0.0.1'))).toMatch(/→ 0 /);
    expect(data.pathsAtReturn).toEqual(['127.0.0.1:live']);
    expect(data.io.readMb).toBe(2);
    expect(data.pathsSettled).toEqual(['127.0.0.1:live']);
    const detach = data.detachCommands.map((c: string) => c.replace(/ →.*/, ''));
    expect(detach).toHaveLength(2);
    expect(detach[0]).toBe(`blockdev --flushbufs ${data.dead.path}`);
    expect(detach[1]).toMatch(/^nvme disconnect -d nvme\d+$/);
    expect(data.left).toEqual(nvmeClean);
    // The backend's delete removed the subsystem from configfs.
    expect(data.subsystemsLeft).toBe('');
  }, CASE_MS);

  it('NVMe/TCP, two volumes on one subsystem: the second attach runs no command; detaching one keeps both controllers and the other volume works; then nothing left', async () => {
    const { data } = await result('nvme-shared-subsystem');
    expect(data.pathsA).toEqual(['127.0.0.1:live', '127.0.0.2:live']);
    expect(data.a.path).not.toBe(data.b.path);
    expect(data.b.commands).toEqual([]);
    expect(data.ioA.readMb).toBe(1);
    expect(data.ioB.readMb).toBe(1);
    expect(data.detachA.map((c: string) => c.replace(/ →.*/, ''))).toEqual([`blockdev --flushbufs ${data.a.path}`]);
    expect(data.afterDetachA.controllers).toHaveLength(2);
    expect(data.pathsAfterDetachA).toEqual(['127.0.0.1:live', '127.0.0.2:live']);
    expect(data.ioBAfter.readMb).toBe(1);
    expect(data.detachB.filter((c: string) => c.startsWith('nvme disconnect'))).toHaveLength(2);
    expect(data.left).toEqual(nvmeClean);
  }, CASE_MS);

  it('NVMe/TCP bad input: malformed fields refused by name before any command; an unknown namespace fails clearly and leaves nothing', async () => {
    const { data } = await result('nvme-bad-input');
    const [nqn, transport, unknown] = data.attempts;
    expect(nqn.error).toMatch(/^HITCH_INVALID_CONNECTION_INFO: .*target_nqn/);
    expect(nqn.commands).toBe(0);
    expect(transport.error).toMatch(/^HITCH_INVALID_CONNECTION_INFO: .*portals\[0\]\[2\].*rdma/);
    expect(transport.commands).toBe(0);
    expect(unknown.error).toMatch(/^HITCH_NVME_NAMESPACE_NOT_FOUND: .*nqn\.2014-08\.org\.hitch:storage-host-nvme/);
    expect(data.left).toEqual(nvmeClean);
  }, CASE_MS);

  it('NVMe/TCP through Hitch\'s APIs (the cloud in the guest: backend nvmet, kernel attach): two portals, one dropped by nftables, usable on the live one through the native multipath head; after detach no controller, subsystem or device', async () => {
    const { data } = await result('nvme-api-dead-portal');
    const { healthy, dead } = data;
    const deadConnect = (dead.attachCommands as string[]).find((c) => c.startsWith('nvme connect') && c.includes('-a 127.0.0.2'));
    // The connect-volume step alone: the first cloud's first attach also pays cold starts (connector properties).
    const connectMs = (r: { attachSteps: string[] }): number => Number(/^connect-volume (\d+) ms/.exec(r.attachSteps.find((x) => x.startsWith('connect-volume ')) ?? '')?.[1] ?? NaN);
    log(
      `nvme-api-dead-portal (kernel ${data.kernel}): attach through the compute API, healthy path (one portal) usable in ${healthy.attachMs} ms ` +
        `(connect-volume ${connectMs(healthy)} ms), two portals with one dropped in ${dead.attachMs} ms (connect-volume ${connectMs(dead)} ms, ` +
        `${(connectMs(dead) / connectMs(healthy)).toFixed(2)}×); detach ${healthy.detachMs} / ${dead.detachMs} ms; probes ${JSON.stringify(dead.attachProbes)}; nvme connects ${JSON.stringify(dead.attachCommands.filter((c: string) => c.startsWith('nvme connect')).map((c: string) => c.replace(/ -n .* →/, ' →')))}`,
    );
    const hostCommands = (list: string[]): string[] => list.filter((c) => /^(nvme|blockdev) /.test(c)).map((c) => c.replace(/ →.*/, ''));
    for (const [r, portals] of [
      [healthy, [['127.0.0.1', '4420', 'tcp']]],
      [dead, [['127.0.0.1', '4420', 'tcp'], ['127.0.0.2', '4420', 'tcp']]],
    ] as const) {
      // The nvmet backend exported the volume as a subsystem of its own on every configured portal.
      expect(r.exported.subsystems).toEqual([`nqn.2014-08.org.openstack:volume-${r.volumeId}`]);
      expect(r.connectionInfo.driver_volume_type).toBe('nvmeof');
      expect(r.connectionInfo.data.portals).toEqual(portals);
      expect(r.attachState).toBe('done');
      // The hypervisor got udev's stable link to the native multipath head (not a per-controller path).
      expect(r.source).toBe(`/dev/disk/by-id/nvme-uuid.${r.volumeId}`);
      expect(r.device).toMatch(/^\/dev\/nvme\d+n\d+$/);
      expect(r.io.readMb).toBe(2);
      expect(hostCommands(r.detachCommands)).toEqual([`blockdev --flushbufs ${r.device}`, expect.stringMatching(/^nvme disconnect -d nvme\d+$/)]);
      expect(r.left).toEqual(nvmeClean);
      expect(r.disksAfter).not.toContain(r.source);
      // The volume's delete through the API removed its subsystem from configfs.
      expect(r.subsystemsAfterDelete).toEqual([]);
    }
    expect(healthy.pathsAtReturn).toEqual(['127.0.0.1:live']);
    // Both portals were probed at once; only the live one got an nvme connect (the dropped one
    // never held the kernel's controller-creation lock); the attach returned on the live one.
    expect([...new Set((dead.attachProbes as string[]).map((p) => p.split(' ')[0]))].sort()).toEqual(['127.0.0.1:4420', '127.0.0.2:4420']);
    expect(hostCommands(dead.attachCommands).filter((c) => c.startsWith('nvme connect'))).toHaveLength(1);
    expect(deadConnect).toBeUndefined();
    expect(dead.pathsAtReturn).toEqual(['127.0.0.1:live']);
    expect(dead.pathsSettled).toEqual(['127.0.0.1:live']);
  }, CASE_MS);

  // The fidelity suite's live half: the same states on this real host and on the simulator.
  fidelitySuite(async (name) => {
    if (!run) throw new Error('the guest did not start');
    const r = await run.result(name);
    log(`${name}: ${r.ok ? 'ok' : 'FAILED'} in ${r.ms} ms (clean start ${r.resetMs} ms)`);
    return r;
  }, log);
});
