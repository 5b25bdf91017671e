/**
 * The crash test with real processes (issue 8, item 3): the simulated world runs in a daemon of
 * its own (`hitch sim serve`) — host kernels, array and hypervisor outlive the server, as they do
 * nova-compute — and `hitch serve` is a child process that kills itself with SIGKILL as a chosen
 * step of an attach or a detach is about to start (`HITCH_CRASH_AT=kind:step`). It is started
 * again, without the hook, on the same data directory and the same world; recovery runs at
 * start. Then, from outside the server: the volume is `available` or `in-use` and agrees with the
 * compute API's attachments and the guest's disks, no operation is still running (trace API), the
 * invariants of the fuzz harness hold over the database, the APIs and the daemon's inspection
 * (no node record, session, SCSI disk or dm map on the host and no export without a live
 * attachment), and a normal attach or detach works. Each step ends detached, so the world is back
 * to its baseline for the next one (and that is checked too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeRepository } from '../../src/compute/repository.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { checkWorld } from '../../src/fuzz/invariants.ts';
import { SimClient } from '../../src/sim/remote/client.ts';
import { freePort } from '../support/cloud.ts';
import { BOUND_MS, exitOf, login, startHitch, until, type Api, type Proc } from '../support/processes.ts';

const ATTACH_STEPS = ['reserve', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete'];
const DETACH_STEPS = ['begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'bdm.destroy'];

interface Serve {
  readonly proc: Proc;
  readonly url: string;
}

async function serve(dataDir: string, socket: string, crashAt?: string): Promise<Serve> {
  const port = await freePort();
  const proc = startHitch(['serve', '--port', String(port), '--data-dir', dataDir, '--sim-socket', socket, '--sim-speed', '0', '--log-level', 'silent'], crashAt ? { HITCH_CRASH_AT: crashAt } : {});
  try {
    await proc.waitFor('Hitch is running');
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { proc, url: `http://127.0.0.1:${port}` };
}

interface Demo {
  readonly demo: Api;
  readonly admin: Api;
  readonly volumeId: string;
  readonly serverId: string;
}

/** The demo volume and server the first start created; on the first start, wait until they are ready. */
async function demoResources(s: Serve, dataDir: string, firstStart: boolean): Promise<Demo> {
  const demo = await login(s.url, dataDir, 'demo');
  const admin = await login(s.url, dataDir, 'admin');
  const vols = await demo.call('GET', `/volume/v3/${demo.projectId}/volumes/detail`);
  const servers = await demo.call('GET', '/compute/v2.1/servers/detail');
  const volumeId = (vols.body.volumes as Array<{ id: string; name: string }>).find((v) => v.name === 'demo-volume')!.id;
  const serverId = (servers.body.servers as Array<{ id: string; name: string }>).find((v) => v.name === 'demo-server')!.id;
  if (firstStart) {
    await until('demo-server ACTIVE', () => demo.call('GET', `/compute/v2.1/servers/${serverId}`), (r) => r.body?.server?.status === 'ACTIVE');
    await until('demo-volume available', () => volumeStatus({ demo, admin, volumeId, serverId }), (st) => st === 'available');
  }
  return { demo, admin, volumeId, serverId };
}

async function volumeStatus(d: Demo): Promise<string> {
  return (await d.demo.call('GET', `/volume/v3/${d.demo.projectId}/volumes/${d.volumeId}`)).body.volume.status as string;
}

async function runningOps(d: Demo): Promise<string[]> {
  const r = await d.demo.call('GET', `/compute/v2.1/servers/${d.serverId}/os-volume_attachments/${d.volumeId}/trace`);
  return (r.body.operations as Array<{ id: string; kind: string; state: string; step: string | null }>).filter((o) => o.state === 'running').map((o) => `${o.kind} ${o.id} at ${o.step ?? 'start'}`);
}

/** The invariants from outside: database (read-only), APIs, and the simulator daemon's inspection. */
async function violations(d: Demo, dataDir: string, sim: SimClient): Promise<string[]> {
  const db = await openDatabase(`sqlite:${join(dataDir, 'hitch.db')}`, { skipMigrations: true });
  try {
    const repo = new ComputeRepository(db.db);
    const vol = (await d.demo.call('GET', `/volume/v3/${d.demo.projectId}/volumes/${d.volumeId}`)).body.volume as { status: string; multiattach: boolean; attachments: Array<{ server_id: string }> };
    const world = await sim.world();
    const v = await checkWorld({
      running: await runningOps(d),
      bdms: await repo.listAllBdms(),
      servers: await repo.listServers(undefined),
      attachments: vol.attachments.map(() => ({ volume_id: d.volumeId })),
      volume: async (id) => (id === d.volumeId ? { status: vol.status, multiattach: vol.multiattach } : null),
      domains: world.domains,
      hosts: world.hosts,
      arrays: world.arrays,
    });
    // The compute API agrees with the block storage API and with the guest.
    const nova = (await d.demo.call('GET', `/compute/v2.1/servers/${d.serverId}/os-volume_attachments`)).body.volumeAttachments as Array<{ volumeId: string }>;
    const novaHas = nova.some((a) => a.volumeId === d.volumeId);
    const guest = world.domains.flatMap((h) => h.domains).find((x) => x.uuid === d.serverId);
    const plugged = (guest?.liveDisks ?? []).some((x) => x.serial === d.volumeId);
    if (!['available', 'in-use'].includes(vol.status)) v.push(`volume ${d.volumeId} is ${vol.status}`);
    if ((vol.status === 'in-use') !== novaHas) v.push(`volume is ${vol.status} but the compute API ${novaHas ? 'lists' : 'does not list'} the attachment`);
    if ((vol.status === 'in-use') !== plugged) v.push(`volume is ${vol.status} but the guest ${plugged ? 'has' : 'does not have'} the disk`);
    if (vol.status === 'available') for (const h of world.hosts) for (const l of h.leftovers) v.push(`host ${h.name}: leftover ${l}`);
    return v;
  } finally {
    await db.close();
  }
}

/** The world the SIGKILL left: host objects beyond the baseline, the guest's disk, the array's export. */
async function crashLeft(sim: SimClient, d: Demo): Promise<string> {
  const world = await sim.world();
  const host = world.hosts.flatMap((h) => h.leftovers.map((l) => l.replace(/ .*/, '')));
  const count = (what: string): number => host.filter((x) => x === what).length;
  const plugged = world.domains.flatMap((h) => h.domains).some((x) => x.uuid === d.serverId && x.liveDisks.some((k) => k.serial === d.volumeId));
  const exported = world.arrays.some((a) => a.exports.some((e) => e.target.endsWith(d.volumeId) && e.acls.length > 0));
  const parts = [
    count('node') ? `${count('node')} nodes` : '',
    count('session') ? `${count('session')} sessions` : '',
    count('disk') ? `${count('disk')} disks` : '',
    count('dm') ? `${count('dm')} map` : '',
    plugged ? 'guest disk' : '',
    exported ? 'export' : '',
  ].filter((x) => x !== '');
  return parts.length ? parts.join(', ') : 'nothing';
}

async function attach(d: Demo): Promise<number> {
  return (await d.demo.call('POST', `/compute/v2.1/servers/${d.serverId}/os-volume_attachments`, { volumeAttachment: { volumeId: d.volumeId } })).status;
}

async function detach(d: Demo): Promise<number> {
  return (await d.demo.call('DELETE', `/compute/v2.1/servers/${d.serverId}/os-volume_attachments/${d.volumeId}`)).status;
}

interface Row {
  readonly boundary: string;
  /** What the dead server left in the world for recovery: host objects, guest disk, array export. */
  readonly leftByCrash: string;
  readonly after: string;
  readonly stuck: number;
  readonly leaked: number;
  readonly then: string;
}

const rows: Row[] = [];

afterAll(() => {
  const stuck = rows.reduce((n, r) => n + r.stuck, 0);
  const leaked = rows.reduce((n, r) => n + r.leaked, 0);
  const lines = rows.map((r) => `  ${r.boundary.padEnd(30)} left by the crash: ${r.leftByCrash.padEnd(40)} recovered to ${r.after.padEnd(10)} stuck ${r.stuck}  leaked ${r.leaked}  then ${r.then}`);
  console.log(`SIGKILL test: ${rows.length} step boundaries, ${stuck} stuck volumes, ${leaked} leaked host objects\n${lines.join('\n')}`);
});

describe.each([
  ['attach', ATTACH_STEPS],
  ['detach', DETACH_STEPS],
] as const)('SIGKILL of hitch serve during %s, at each step boundary, on a simulator daemon', (kind, steps) => {
  let dir = '';
  let daemon: Proc;
  let sim: SimClient;
  let socket = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-sigkill-'));
    socket = join(dir, 'sim.sock');
    daemon = startHitch(['sim', 'serve', '--scenario', 'healthy-multipath', '--socket', socket]);
    await daemon.waitFor('listening on');
    sim = await SimClient.connect(socket);
  }, BOUND_MS);

  afterAll(async () => {
    await sim?.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(steps)(`killed as ${kind} step %s begins: recovery converges, nothing stuck, nothing leaked, attach and detach work after`, async (step) => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    let s = await serve(dataDir, socket, `${kind}:${step}`);
    try {
      let d = await demoResources(s, dataDir, true);
      if (kind === 'detach') {
        expect(await attach(d)).toBe(200);
        await until('attached', () => volumeStatus(d), (st) => st === 'in-use');
        await detach(d).catch(() => 0);
      } else {
        // The process may die before it answers (the early steps run inside the request).
        await attach(d).catch(() => 0);
      }
      const died = await exitOf(s.proc);
      expect(died.signal).toBe('SIGKILL');
      const leftByCrash = await crashLeft(sim, d);

      s = await serve(dataDir, socket);
      d = await demoResources(s, dataDir, false);
      const after = await until('recovery', async () => ({ status: await volumeStatus(d), running: await runningOps(d) }), (x) => x.running.length === 0 && ['available', 'in-use'].includes(x.status));
      const found = await violations(d, dataDir, sim);
      const stuck = found.filter((x) => /transitional|still running|left /.test(x) || /^volume .* is /.test(x)).length;
      const leaked = found.length - stuck;
      rows.push({ boundary: `${kind}:${step}`, leftByCrash, after: after.status, stuck, leaked, then: found.length ? found.join('; ') : '' });
      expect(found).toEqual([]);

      // Nothing is stuck: the normal operation works, and the world ends at its baseline.
      let then: string;
      if (after.status === 'in-use') {
        expect(await detach(d)).toBe(202);
        await until('detached', () => volumeStatus(d), (st) => st === 'available');
        then = 'detach ok';
      } else {
        expect(await attach(d)).toBe(200);
        await until('attached', () => volumeStatus(d), (st) => st === 'in-use');
        await until('attach finished', () => runningOps(d), (r) => r.length === 0);
        expect(await violations(d, dataDir, sim)).toEqual([]);
        expect(await detach(d)).toBe(202);
        await until('detached', () => volumeStatus(d), (st) => st === 'available');
        then = 'attach+detach ok';
      }
      await until('detach finished', () => runningOps(d), (r) => r.length === 0);
      expect(await violations(d, dataDir, sim)).toEqual([]);
      rows[rows.length - 1] = { boundary: `${kind}:${step}`, leftByCrash, after: after.status, stuck, leaked, then };
    } finally {
      await s.proc.stop();
    }
  }, 3 * BOUND_MS);
});
