/**
 * Shared fixtures of the iSCSI connector tests: a simulated host (`SimHost`, virtual clock)
 * built from a few lines of test data — targets, their portals, LUNs and CHAP, dead portals,
 * multipathd's habits, LUNs that never answer the scan — under a `RecordingHost`, so a test
 * pins the exact commands and sysfs writes, and reads the host's state after.
 */
import { PolicyHost } from '../../host/policy-host.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import type { HostCapabilities, HostTransport, TransportExecOptions, TransportExecResult } from '../../ports/host.ts';
import type { FaultSpec } from '../../sim/faults.ts';
import { inspectHost } from '../../sim/inspect.ts';
import { validateScenario, type Scenario } from '../../sim/scenario.ts';
import { SimHost, SimTransport } from '../../sim/sim-host.ts';
import { Simulation } from '../../sim/simulation.ts';
import { Trace } from '../../trace/span.ts';
import { IscsiConnector, type IscsiConnectorOptions } from './iscsi.ts';

export const A0 = 'iqn.1992-04.com.emc:cx.apm00150602415.a0';
export const B0 = 'iqn.1992-04.com.emc:cx.apm00150602415.b0';
export const WWN = '36006016074e03a008d3cf25b04e2daae';
export const P59 = '192.168.1.59:3260';
export const P60 = '192.168.1.60:3260';
/** The rig host's initiator name (the seed's). */
export const INITIATOR = 'iqn.1993-08.org.debian:01:7cc8838d1c0';

/** The seed's `initialize_connection` result. */
export const SEED = {
  target_luns: [192, 192],
  target_lun: 192,
  target_iqns: [A0, B0],
  target_iqn: B0,
  target_portals: [P59, P60],
  target_portal: P60,
  target_discovered: true,
  encrypted: false,
  qos_specs: null,
  access_mode: 'rw',
  volume_id: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf',
};

export interface RigTarget {
  readonly iqn: string;
  readonly portals: readonly string[];
  readonly luns: Readonly<Record<number, { readonly wwn: string; readonly ro?: boolean }>>;
  readonly chap?: { readonly user: string; readonly pass: string };
}

export interface RigOptions {
  readonly targets: readonly RigTarget[];
  readonly deadPortals?: readonly string[];
  /** multipathd builds maps by itself (find_multipaths no, the default); false: only for WWIDs it was told (strict). */
  readonly autoMap?: boolean;
  /** multipathd never builds a map (a blacklisted WWID, a broken multipath.conf). */
  readonly noMaps?: boolean;
  /** LUNs whose disk never appears (the array never answers the scan). */
  readonly silentLuns?: readonly number[];
  /** Where this host's open-iscsi keeps node records (default Debian's `/etc/iscsi/nodes`). */
  readonly nodesDir?: string;
  /** False: the Host cannot replace files atomically (brick then makes records with iscsiadm). */
  readonly atomicWrite?: boolean;
  /** How long multipathd takes to build a map by itself (the simulator's `multipathMapDelayMs`). */
  readonly mapDelayMs?: number;
}

/** The host of `o` as a scenario: `newton`, its root disk `sda`, SCSI hosts from 2, one array serving every target. */
export function rigScenario(o: RigOptions): Scenario {
  const portals = [...new Set(o.targets.flatMap((t) => t.portals))];
  const dead = new Set(o.deadPortals ?? []);
  const silent = new Set(o.silentLuns ?? []);
  const faults: FaultSpec[] = [
    ...(o.noMaps ? [{ fault: 'map-never' as const }] : []),
    ...o.targets.flatMap((t) => Object.entries(t.luns).filter(([lun]) => silent.has(Number(lun))).map(([, l]) => ({ fault: 'device-never-appears' as const, wwn: l.wwn }))),
  ];
  return validateScenario({
    name: 'brick-rig',
    seed: 1,
    ...(o.mapDelayMs !== undefined ? { latency: { multipathMapDelayMs: o.mapDelayMs } } : {}),
    portals: Object.fromEntries(portals.map((p) => [p, { state: dead.has(p) ? 'dead' : 'healthy' }])),
    arrays: [
      {
        name: 'array1',
        portals,
        targets: o.targets.map((t) => ({
          iqn: t.iqn,
          portals: [...t.portals],
          luns: Object.entries(t.luns).map(([lun, l]) => ({ lun: Number(lun), wwn: l.wwn, ...(l.ro ? { readOnly: true } : {}) })),
          acl: [{ initiator: INITIATOR, ...(t.chap ? { chapUser: t.chap.user, chapPassword: t.chap.pass } : {}) }],
        })),
      },
    ],
    hosts: [
      {
        name: 'newton',
        initiator: INITIATOR,
        ip: '172.16.1.11',
        multipathd: true,
        findMultipaths: o.autoMap === false ? 'strict' : 'no',
        firstScsiHost: 2,
        localDisks: [{ name: 'sda' }],
        ...(o.nodesDir ? { iscsiNodesDir: o.nodesDir } : {}),
      },
    ],
    faults,
  });
}

/** The host's iSCSI state in one line per object, as the tests compare it. */
export interface HostState {
  readonly nodes: string[];
  readonly sessions: string[];
  readonly disks: string[];
  readonly maps: string[];
}

export const EMPTY: HostState = { nodes: [], sessions: [], disks: [], maps: [] };

export interface Rig {
  readonly sim: Simulation;
  readonly host: RecordingHost;
  readonly trace: Trace;
  readonly conn: IscsiConnector;
  readonly logs: string[];
  /** Commands that fail (exit 1) from the moment a prefix is added: `blockdev --flushbufs`. */
  readonly broken: Set<string>;
  /** What the next `multipath -f` calls answer on stderr (exit 1) before the map is flushed: the map is busy. */
  readonly busy: string[];
  now(): number;
  state(): HostState;
  /** A node record file and its permission bits, or undefined. */
  nodeFile(iqn: string, portal: string): { readonly text: string; readonly mode: number | undefined } | undefined;
  /** A setting of a node record, as open-iscsi has it. */
  nodeSetting(iqn: string, portal: string, key: 'node.startup' | 'node.session.scan' | 'node.session.auth.authmethod'): string | undefined;
  /** Run a command on the host without recording it (the state a test starts from). */
  setup(cmd: string, args: readonly string[]): Promise<unknown>;
  exists(path: string): boolean;
}

/** The simulated host's calls, with the commands named in `broken` failing as a tool does. */
class BreakableTransport implements HostTransport {
  readonly #t: SimTransport;
  readonly broken = new Set<string>();
  readonly busy: string[] = [];
  readonly capabilities: HostCapabilities;
  constructor(t: SimTransport, atomicWrite: boolean) {
    this.#t = t;
    this.capabilities = { atomicWrite, tcpProbe: true };
  }
  get name() {
    return this.#t.name;
  }
  get clock() {
    return this.#t.clock;
  }
  async run(cmd: string, args: readonly string[], opts: TransportExecOptions): Promise<TransportExecResult> {
    const line = [cmd, ...args].join(' ');
    if ([...this.broken].some((b) => line.startsWith(b))) {
      const at = this.clock.now();
      return { code: 1, stdout: '', stderr: `${cmd}: injected failure\n`, timedOut: false, startMs: at, endMs: at };
    }
    const busy = line.startsWith('multipath -f') ? this.busy.shift() : undefined;
    if (busy !== undefined) {
      const at = this.clock.now();
      return { code: 1, stdout: '', stderr: busy, timedOut: false, startMs: at, endMs: at };
    }
    return this.#t.run(cmd, args, opts);
  }
  readFile = (p: string) => this.#t.readFile(p);
  readFiles = (p: readonly string[]) => this.#t.readFiles(p);
  writeFile = (p: string, d: string) => this.#t.writeFile(p, d);
  writeFileAtomic = (p: string, d: string, m: number) => this.#t.writeFileAtomic(p, d, m);
  exists = (p: string) => this.#t.exists(p);
  readlink = (p: string) => this.#t.readlink(p);
  realpath = (p: string) => this.#t.realpath(p);
  readdir = (p: string) => this.#t.readdir(p);
  glob = (p: string) => this.#t.glob(p);
  waitForPath: HostTransport['waitForPath'] = (p, o) => this.#t.waitForPath(p, o);
  probeTcp: HostTransport['probeTcp'] = (a, port, o) => this.#t.probeTcp(a, port, o);
}

export function rig(opts: RigOptions, conn: Partial<Omit<IscsiConnectorOptions, 'host'>> = {}): Rig {
  const sim = Simulation.create(rigScenario(opts));
  const transport = new BreakableTransport(new SimTransport(sim, 'newton'), opts.atomicWrite ?? true);
  const host = new RecordingHost(new PolicyHost(transport, { allowedRoots: ['/sys', '/dev', '/etc/iscsi', '/etc/multipath', '/etc/nvme', '/proc', '/var/lib/iscsi'] }));
  const trace = new Trace(host.clock);
  const logs: string[] = [];
  const c = new IscsiConnector({ host, multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`), ...conn });
  const model = () => sim.host('newton');
  return {
    sim,
    host,
    trace,
    conn: c,
    logs,
    broken: transport.broken,
    busy: transport.busy,
    now: () => host.clock.now(),
    state: () => {
      const s = inspectHost(model());
      return {
        nodes: s.nodes.map((n) => `${n.portal},${n.target}`),
        sessions: s.sessions.map((x) => `${x.portal},${x.target}`),
        disks: s.disks.map((d) => `${d.name} ${d.portal} lun ${d.lun}`),
        maps: s.maps.map((m) => `${m.wwn} ${m.dm} [${m.paths.join(',')}]`),
      };
    },
    nodeFile: (iqn, portal) => {
      const path = `${opts.nodesDir ?? '/etc/iscsi/nodes'}/${iqn}/${portal.replace(':', ',')}`;
      const vfs = model().vfs;
      const node = vfs.lstat(path);
      return node && vfs.exists(path) ? { text: vfs.read(path), mode: 'mode' in node ? node.mode : undefined } : undefined;
    },
    nodeSetting: (iqn, portal, key) => {
      const n = inspectHost(model()).nodes.find((x) => x.target === iqn && x.portal === portal);
      return n && { 'node.startup': n.startup, 'node.session.scan': n.scan, 'node.session.auth.authmethod': n.authmethod }[key];
    },
    setup: (cmd, args) => new SimHost(sim, 'newton').exec(cmd, args),
    exists: (path) => model().vfs.exists(path),
  };
}

export function seedRig(extra: Partial<RigOptions> = {}, conn: Partial<Omit<IscsiConnectorOptions, 'host'>> = {}): Rig {
  return rig(
    {
      targets: [
        { iqn: A0, portals: [P59], luns: { 192: { wwn: WWN } } },
        { iqn: B0, portals: [P60], luns: { 192: { wwn: WWN } } },
      ],
      deadPortals: [P59],
      ...extra,
    },
    conn,
  );
}

/** iscsiadm node command prefix. */
export function node(iqn: string, portal: string, rest = ''): string {
  return `iscsiadm -m node -T ${iqn} -p ${portal}${rest ? ' ' + rest : ''}`;
}
