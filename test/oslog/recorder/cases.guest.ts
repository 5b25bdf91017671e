/**
 * Inside the storage host guest: the cases that record os-brick 6.1's own debug log (see
 * README.md here). Each sets up the storage the way its story needs (tgt targets on the two
 * loopback portals, a portal dropped with nftables, multipathd told to leave tgt's disks
 * alone), then lets `record_os_brick.py` drive os-brick as nova-compute does, and returns the
 * log as os-brick, oslo.concurrency and oslo.privsep wrote it, with what each call returned.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestCases, GuestContext } from '../../../src/test-support/storage-host/guest/runner.ts';
import { DEFAULT_LOGIN, PORTALS, SHORT_LOGIN, leftovers, must, type StorageSetup } from '../../../src/test-support/storage-host/guest/storage.ts';

// The guest runs its cases from the repository, shared at /hitch (the runner's cwd).
const RECORDER = join(process.cwd(), 'test/oslog/recorder/record_os_brick.py');

/** The volumes of the recordings (fixed, so the samples' facts can name them). */
export const VOLUMES = {
  healthy: 'f806c50f-4384-4008-82ce-5262b1dfc0c6',
  seed: '34be8f8b-e662-4c18-8d18-d366d620060a',
  noMap: 'a904d471-507c-405e-b542-b6fb1037b7fa',
  lockFirst: '42d764db-79bf-44ce-9946-cd780a14aeee',
  lockSecond: '39760d95-fca8-4142-bae2-366af4e2e0f3',
  failed: '7e29c177-2845-4248-92f3-30a64c475b74',
} as const;

const iqnOf = (volume: string): string => `iqn.2010-10.org.openstack:volume-${volume}`;

/** connection_info['data'] as Cinder's tgt (LVM) driver returns it for a multipath connector. */
function connectionProperties(volume: string): Record<string, unknown> {
  const iqn = iqnOf(volume);
  return {
    target_discovered: false,
    target_portal: PORTALS[0],
    target_iqn: iqn,
    target_lun: 1,
    target_portals: [...PORTALS],
    target_iqns: PORTALS.map(() => iqn),
    target_luns: PORTALS.map(() => 1),
    volume_id: volume,
    access_mode: 'rw',
    encrypted: false,
    qos_specs: null,
  };
}

interface Call {
  readonly id: string;
  readonly op: 'connect' | 'disconnect';
  readonly props: Record<string, unknown>;
  readonly after?: string;
}

/** tgt's LUNs as multipathd would see them, blacklisted: the map can never be built. */
async function blacklistTgtDisks(): Promise<void> {
  const conf = readFileSync('/etc/multipath.conf', 'utf8').replace('blacklist {\n', 'blacklist {\n    device {\n        vendor "IET"\n        product "VIRTUAL-DISK"\n    }\n');
  writeFileSync('/etc/multipath.conf', conf);
  await must('multipathd', ['reconfigure']);
}

/** Run os-brick through the recorder; the log and what each call gave. */
async function record(ctx: GuestContext, calls: readonly Call[], opts: { parallel?: boolean; stagger?: number; enforce?: boolean } = {}): Promise<unknown> {
  const dir = `/tmp/hitch-oslog/${ctx.name}`;
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'os-brick.log');
  const job = {
    log,
    workdir: dir,
    multipath: true,
    enforce_multipath: opts.enforce ?? false,
    // The guest has neither dmidecode nor DMI in sysfs, where os-brick 6.1's
    // get_connector_properties raises FileNotFoundError (nvmeof's system uuid): not called here.
    connector_properties: false,
    my_ip: '127.0.0.1',
    host: 'compute-1',
    parallel: opts.parallel ?? false,
    stagger: opts.stagger ?? 0.5,
    calls,
  };
  const jobFile = join(dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const t0 = Date.now();
  const code = await new Promise<number>((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [RECORDER, jobFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => ctx.log(`python: ${d.toString().trimEnd()}`));
    p.stderr.on('data', (d: Buffer) => ctx.log(`python: ${d.toString().trimEnd()}`));
    p.on('error', reject);
    p.on('close', (c) => resolve(c ?? -1));
  });
  return {
    exit: code,
    wallMs: Date.now() - t0,
    log: readFileSync(log, 'utf8'),
    result: JSON.parse(readFileSync(join(dir, 'os-brick.result.json'), 'utf8')) as unknown,
    leftovers: leftovers(),
  };
}

const target = (volume: string): StorageSetup['targets'] => [{ iqn: iqnOf(volume) }];

export const cases: GuestCases = {
  /** Both portals answer; multipathd builds the map. Then the detach. */
  'healthy-multipath': {
    setup: () => ({ findMultipaths: 'no', login: SHORT_LOGIN, targets: target(VOLUMES.healthy) }),
    run: (ctx) =>
      record(ctx, [
        { id: 'healthy', op: 'connect', props: connectionProperties(VOLUMES.healthy) },
        { id: 'healthy', op: 'disconnect', props: connectionProperties(VOLUMES.healthy), after: 'healthy' },
      ]),
  },
  /**
   * The seed: two portals, one dropped with nftables, open-iscsi's default login timeouts
   * (15 s × 8), and no multipath map (multipathd leaves tgt's disks alone).
   */
  seed: {
    setup: () => ({ findMultipaths: 'no', login: DEFAULT_LOGIN, targets: target(VOLUMES.seed) }),
    run: async (ctx) => {
      await blacklistTgtDisks();
      await ctx.storage.dropPortal((PORTALS[1] ?? '').split(':')[0] ?? '');
      return record(ctx, [{ id: 'seed', op: 'connect', props: connectionProperties(VOLUMES.seed) }]);
    },
  },
  /** Both portals answer, but multipathd never builds the map: os-brick falls back to one disk. */
  'map-never-created': {
    setup: () => ({ findMultipaths: 'no', login: SHORT_LOGIN, targets: target(VOLUMES.noMap) }),
    run: async (ctx) => {
      await blacklistTgtDisks();
      return record(ctx, [{ id: 'no-map', op: 'connect', props: connectionProperties(VOLUMES.noMap) }]);
    },
  },
  /** Two attaches on one host at once: the second waits for os-brick's connect_volume lock. */
  'lock-wait': {
    setup: () => ({ findMultipaths: 'no', login: SHORT_LOGIN, targets: [...(target(VOLUMES.lockFirst) ?? []), ...(target(VOLUMES.lockSecond) ?? [])] }),
    run: (ctx) =>
      record(
        ctx,
        [
          { id: 'first', op: 'connect', props: connectionProperties(VOLUMES.lockFirst) },
          { id: 'second', op: 'connect', props: connectionProperties(VOLUMES.lockSecond) },
        ],
        { parallel: true, stagger: 1 },
      ),
  },
  /** Every portal dropped: every login fails, os-brick retries, cleans up and raises. */
  'failed-attach': {
    setup: () => ({ findMultipaths: 'no', login: SHORT_LOGIN, targets: target(VOLUMES.failed) }),
    run: async (ctx) => {
      for (const p of PORTALS) await ctx.storage.dropPortal(p.split(':')[0] ?? '');
      return record(ctx, [{ id: 'failed', op: 'connect', props: connectionProperties(VOLUMES.failed) }]);
    },
  },
};
