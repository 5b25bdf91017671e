/**
 * Deterministic simulation testing: one seed → one random world (scenario, Cinder flow), one
 * random workload (volumes, servers, batches of concurrent attaches, detaches and deletes), one
 * random fault schedule (the simulator's fault catalog on a timetable, block storage errors,
 * hypervisor refusals and guests that never release a disk) and maybe a crash of the compute
 * service at a random step followed by a restart — all on the virtual clock. At the end, the
 * invariants. The same seed replays the same run.
 */
import { HitchError } from '../errors.ts';
import type { AuthContext } from '../identity/identity-service.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import { RandomDbFaults } from '../db/faults.ts';
import { openDatabase } from '../db/open-database.ts';
import { createServices, type Services } from '../server/cloud.ts';
import { resolveConfig } from '../server/config.ts';
import type { FaultSpec } from '../sim/faults.ts';
import { SeededRandom } from '../sim/random.ts';
import type { SimHypervisor } from '../sim/sim-hypervisor.ts';
import { checkInvariants } from './invariants.ts';

export interface SeedResult {
  readonly seed: number;
  readonly scenario: string;
  readonly flow: string;
  readonly operations: number;
  readonly faults: number;
  /** Of `faults`, the database's (a full disk, a lock, an I/O error at a statement). */
  readonly dbFaults: number;
  readonly crashed: string | null;
  readonly violations: readonly string[];
}

const SCENARIOS = ['healthy-multipath', 'healthy-single', 'eight-portals-three-dead', 'seed', 'slow-udev', 'map-never'];
const ATTACH_STEPS = ['reserve', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete'];
const DETACH_STEPS = ['begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'bdm.destroy'];
type StorageCall = 'getVolume' | 'initialize' | 'complete' | 'beginDetaching';

type Op = { kind: 'attach'; server: number; volume: number; device: string | null } | { kind: 'detach'; server: number; volume: number } | { kind: 'delete'; volume: number };

class Rng {
  readonly #r: SeededRandom;
  constructor(seed: number) {
    // A different stream from the simulator's own, which is seeded with the same number.
    this.#r = new SeededRandom((seed ^ 0x5eed5eed) >>> 0);
  }
  float(): number {
    return this.#r.next();
  }
  int(lo: number, hi: number): number {
    return this.#r.int(lo, hi);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.#r.int(0, xs.length - 1)] as T;
  }
}

/** Block storage that fails some forward calls, like a Cinder answering 500 now and then. */
function flakyStorage(inner: VolumeAttachProtocol, rng: Rng, rate: number, count: { faults: number }): VolumeAttachProtocol {
  const maybe = (call: StorageCall): void => {
    if (rate > 0 && rng.float() < rate) {
      count.faults++;
      throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 500, method: 'POST', path: call, detail: 'injected by the fuzzer' });
    }
  };
  return {
    get flow() {
      return inner.flow;
    },
    getVolume: async (id, s) => (s.record !== null ? (maybe('getVolume'), inner.getVolume(id, s)) : inner.getVolume(id, s)),
    reserve: (id, i, s) => inner.reserve(id, i, s),
    attachmentsOf: (id, i, s) => inner.attachmentsOf(id, i, s),
    initialize: async (r, c, s) => (maybe('initialize'), inner.initialize(r, c, s)),
    complete: async (r, s) => (maybe('complete'), inner.complete(r, s)),
    release: (r, c, s) => inner.release(r, c, s),
    beginDetaching: async (id, s) => (maybe('beginDetaching'), inner.beginDetaching(id, s)),
    rollDetaching: (id, s) => inner.rollDetaching(id, s),
    finishDetach: (r, c, s) => inner.finishDetach(r, c, s),
    extendFailed: (id, s) => inner.extendFailed(id, s),
  };
}

/**
 * Commands to make hang: what Hitch runs on its normal attach and detach paths (binary, a
 * substring of its arguments). Sessions and node records are files and sysfs reads now, so
 * only these are processes left to hang.
 */
const HANGS: ReadonlyArray<readonly [string, string]> = [
  ['iscsiadm', '--login'],
  ['iscsiadm', '--logout'],
  ['iscsiadm', '--op delete'],
  ['multipath', '-a'],
  ['multipathd', 'add path'],
  ['multipathd', 'del path'],
  ['multipath', '-f'],
  ['blockdev', '--flushbufs'],
];

function randomSimFault(rng: Rng, portals: readonly string[], hosts: readonly string[]): FaultSpec {
  const at = rng.int(0, 20_000);
  const until = at + rng.int(1_000, 180_000);
  const portal = rng.pick(portals);
  const host = rng.pick(hosts);
  switch (rng.int(0, 10)) {
    case 0:
      return { fault: 'portal-dead', portal, at, until, loginTimeoutMs: rng.pick([15_000, 120_000]) };
    case 1:
      return { fault: 'portal-refusing', portal, at, until };
    case 2:
      return { fault: 'portal-slow', portal, at, until, latencyMs: rng.int(10, 2_000) };
    case 3:
      return { fault: 'login-auth-failure', portal, at, until };
    case 4:
      return { fault: 'target-not-found', portal, at, until };
    case 5:
      return { fault: 'device-never-appears', host, at, until };
    case 6:
      return { fault: 'device-appears-late', host, at, until, delayMs: rng.int(100, 40_000) };
    case 7:
      return { fault: 'multipathd-down', host, at, until };
    case 8:
      return { fault: 'scsi-id-failure', host, at, until };
    case 9: {
      // The nth such call, whenever it comes: detach-path commands run late, often after any
      // time window would have closed.
      const [command, match] = rng.pick(HANGS);
      return { fault: 'command-hangs', host, command, match, nth: rng.int(1, 2), times: rng.int(1, 3), hangMs: rng.int(1_000, 200_000) };
    }
    default:
      return { fault: 'map-never', at, until };
  }
}

export async function runSeed(seed: number): Promise<SeedResult> {
  const rng = new Rng(seed);
  const scenario = rng.pick(SCENARIOS);
  const flow = rng.pick(['attachments', 'legacy'] as const);
  const config = resolveConfig({ scenario, seed, cinderFlow: flow, dataDir: '/nonexistent-hitch-fuzz', databaseUrl: 'sqlite::memory:', detachTimeoutMs: rng.pick([2_000, 30_000]) }, {});
  // Database faults at any statement while the workload runs; they stop before the end, and
  // then every operation must reach a consistent end (src/db/faults.ts).
  const dbRng = new SeededRandom((seed ^ 0x0db0db0d) >>> 0);
  const dbFaults = new RandomDbFaults(rng.pick([0, 0, 0.01, 0.03, 0.08]), () => dbRng.next());
  // The busy retry waits on no wall clock here: its pauses only count.
  let busyNow = 0;
  const busyClock = { now: () => busyNow, sleep: (ms: number) => new Promise<void>((r) => setImmediate(() => ((busyNow += ms), r()))) };
  const db = await openDatabase('sqlite::memory:', { faults: dbFaults, busyClock });
  const count = { faults: 0 };
  const storageRate = rng.pick([0, 0, 0.05, 0.15]);
  const ops: Op[] = [];
  const nVol = rng.int(2, 4);
  const nSrv = rng.int(1, 3);
  for (let i = rng.int(4, 12); i > 0; i--) {
    const r = rng.float();
    if (r < 0.55) ops.push({ kind: 'attach', server: rng.int(0, nSrv - 1), volume: rng.int(0, nVol - 1), device: rng.float() < 0.2 ? rng.pick(['/dev/vdb', '/dev/vdc', 'vdd']) : null });
    else if (r < 0.9) ops.push({ kind: 'detach', server: rng.int(0, nSrv - 1), volume: rng.int(0, nVol - 1) });
    else ops.push({ kind: 'delete', volume: rng.int(0, nVol - 1) });
  }
  const computeOps = ops.filter((o) => o.kind !== 'delete').length;
  // A crash freezes the compute service at a step boundary of the k-th attach or detach. Runs with
  // a crash issue their operations one at a time, so nothing else is half done when it dies
  // (concurrency is what the runs without a crash exercise).
  const crashPlan = computeOps > 0 && rng.float() < 0.35 ? { op: rng.int(0, computeOps - 1), stepIndex: rng.int(0, 6) } : null;
  let crashed: string | null = null;
  let crashing = false;
  let active = 0;
  let onIdle: (() => void) | null = null;
  const settleOne = (): void => {
    active--;
    if (active === 0) onIdle?.();
  };
  let opSerial = 0;
  /** Operation ids in the order the hook first saw them. */
  const seen = new Map<string, number>();

  const build = (withCrash: boolean, plane?: Services['dataPlane']): Promise<Services> =>
    createServices({
      config,
      database: db,
      ...(plane ? { dataPlane: plane } : {}),
      wrapStorage: (p) => flakyStorage(p, rng, storageRate, count),
      onStep: (op, step) => {
        if (!withCrash) return undefined;
        if (!seen.has(op.id)) seen.set(op.id, seen.size);
        const planned = crashPlan && seen.get(op.id) === crashPlan.op;
        const steps = op.kind === 'attach' ? ATTACH_STEPS : DETACH_STEPS;
        if (planned && step === steps[crashPlan.stepIndex % steps.length]) {
          crashed = `${op.kind} at ${step}`;
          crashing = true;
          settleOne();
          return new Promise<void>(() => undefined); // the compute service died here
        }
        return undefined;
      },
    });

  let s = await build(crashPlan !== null);
  try {
    const sim = s.sim!;
    const portals = sim.arrays().flatMap((a) => a.portals);
    for (let i = rng.int(0, 3); i > 0; i--) {
      sim.injectFault(randomSimFault(rng, portals, sim.hostNames()));
      count.faults++;
    }
    const hv = s.hosts[0]!.hypervisor as SimHypervisor;
    if (rng.float() < 0.3) {
      hv.injectFault({ op: rng.pick(['attach', 'detach'] as const), times: rng.int(1, 2) });
      count.faults++;
    }
    const caller = { userId: 'fuzz-user', projectId: 'fuzz-project', isAdmin: false };
    const ctx: AuthContext = { userId: caller.userId, userName: 'fuzz', projectId: caller.projectId, projectName: 'fuzz', roles: ['member'], isAdmin: false, tokenMask: '', expiresAt: '' };
    const volumes: string[] = [];
    for (let i = 0; i < nVol; i++) volumes.push((await s.volumes.create(caller, { size: 1, name: `v${i}` })).id);
    const servers: string[] = [];
    for (let i = 0; i < nSrv; i++) servers.push((await s.compute.createServer(ctx, { name: `vm${i}`, imageRef: 'hitch-tiny', flavorRef: '1' })).id);
    await s.settle();
    if (rng.float() < 0.2) {
      hv.setUnplugBehaviour(hv.domains()[0]!.name, 'never');
      count.faults++;
    }

    dbFaults.active = true;
    let i = 0;
    while (i < ops.length) {
      const batch = ops.slice(i, i + (crashPlan ? 1 : rng.int(1, 3)));
      i += batch.length;
      const idle = new Promise<void>((r) => (onIdle = r));
      active += batch.length;
      batch.forEach((op) => {
        const run = async (): Promise<void> => {
          if (op.kind === 'delete') {
            await s.volumes.delete(caller, volumes[op.volume]!);
            return;
          }
          const server = servers[op.server]!;
          const volume = volumes[op.volume]!;
          const h =
            op.kind === 'attach'
              ? await s.compute.attachVolume(ctx, server, volume, op.device, `req-fuzz-${seed}-${++opSerial}`)
              : await s.compute.detachVolume(ctx, server, volume, `req-fuzz-${seed}-${++opSerial}`);
          await h.done;
        };
        // A crash freezes this op inside a step; `settleOne` then runs from the hook instead.
        void run().then(settleOne, settleOne);
      });
      await idle;
      if (crashing) break;
      await s.settle();
    }
    dbFaults.active = false;
    if (crashing) {
      // The kernel, the array and the hypervisor outlive the compute service: let what they were
      // doing finish, then start a new compute service on the same database and hosts.
      await Promise.all(s.hosts.map((h) => h.brick.settled()));
      const plane = s.dataPlane;
      s = await build(false, plane);
    }
    await s.settle();
    const violations = await checkInvariants(s);
    return { seed, scenario, flow, operations: ops.length, faults: count.faults + dbFaults.total, dbFaults: dbFaults.total, crashed, violations };
  } finally {
    await s.settle().catch(() => undefined);
    await db.close();
  }
}
