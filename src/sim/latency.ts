/**
 * The latency model: what each simulated step costs in virtual milliseconds, and the
 * data-plane floor a scenario allows — the time the network and kernel alone need to attach a
 * volume, with zero software cost. The bench reports Hitch's virtual time as a ratio to it.
 */

export interface LatencyModel {
  /** Cost of a command that does no network or kernel work (a parse, a database edit). */
  readonly commandMs: number;
  /** Per-binary overrides of `commandMs` (`{ "iscsiadm": 6 }`). */
  readonly perCommandMs: Readonly<Record<string, number>>;
  /** One iSCSI login round trip to a healthy portal (TCP + login PDUs). */
  readonly loginRttMs: number;
  /** Logout round trip. */
  readonly logoutRttMs: number;
  /** iscsid's login attempts before it gives up on an unreachable portal. */
  readonly loginRetries: number;
  /** Wait per attempt (node.conn[0].timeo.login_timeout in practice 15 s). */
  readonly loginRetryTimeoutMs: number;
  /** A refused connection fails each attempt at once; iscsid still pauses between attempts. */
  readonly refusedRetryMs: number;
  /** SCSI scan of one LUN through a session (REPORT LUNS, INQUIRY, READ CAPACITY). */
  readonly lunScanMs: number;
  /** From the kernel adding `sdX` to udev creating its `/dev/disk/by-*` links. */
  readonly udevDelayMs: number;
  /** From a path appearing to multipathd creating (or extending) its dm map. */
  readonly multipathMapDelayMs: number;
  /** The storage array exporting a LUN to an initiator (`initialize_connection`). */
  readonly arrayExportMs: number;
  /** SendTargets discovery round trip. */
  readonly discoveryRttMs: number;
  /** iscsid's pause between two attempts of one login (the attempts themselves take the record's login_timeout). */
  readonly loginRetryGapMs: number;
  /** iscsid's own time per login: one daemon, so logins asked for at once wait for it in turn. */
  readonly iscsidServiceMs: number;
  /** udev events handled at once (its workers); 0 = any number. Each takes `udevDelayMs`. */
  readonly udevWorkers: number;
  /**
   * multipathd's own time to build or extend a map, inside `multipathDelayMs` or a `multipathd
   * add path` (whose answer comes once the map exists); builds wait for multipathd in turn.
   */
  readonly multipathMapBuildMs: number;
  /** `multipath -f`: device-mapper removing the map. */
  readonly mapFlushMs: number;
  /** The kernel removing a SCSI disk after `echo 1 > …/device/delete` (the write returns then). */
  readonly deviceDeleteMs: number;
  /** NVMe/TCP: a connect to a healthy portal (TCP, ICReq, the admin and I/O queues' Connect commands, Identify). */
  readonly nvmeConnectRttMs: number;
  /** NVMe/TCP: a connect to a portal that drops packets fails (ETIMEDOUT): nvme-tcp allows one SYN retry, 1 s + 2 s. */
  readonly nvmeSynTimeoutMs: number;
  /** NVMe/TCP: a connect to a portal that refuses (ECONNREFUSED). */
  readonly nvmeRefusedMs: number;
  /**
   * NVMe/TCP: from a live controller's portal going silent to its error recovery (state
   * `resetting`): the keep-alive (kato 5 s) and its command's timeout. Storage host guest: seen
   * between 7.0 and 8.5 s after the nftables drop.
   */
  readonly nvmeKeepAliveLossMs: number;
  /** NVMe/TCP: error recovery tearing the queues down before the first reconnect (state `connecting`); guest: 4–5 s. */
  readonly nvmeTeardownMs: number;
  /** `nvme disconnect`: the kernel deleting a controller. */
  readonly nvmeDisconnectMs: number;
  /**
   * A TCP handshake from a host to a portal that answers (SYN, then SYN-ACK or RST): one round
   * trip. A TCP probe of a live portal is open, of a refusing one refused, after this long
   * (plus twice a slow portal's latency); a dead portal never answers.
   */
  readonly tcpHandshakeMs: number;
}

export const DEFAULT_LATENCY: LatencyModel = Object.freeze({
  commandMs: 5,
  perCommandMs: Object.freeze({}),
  loginRttMs: 40,
  logoutRttMs: 20,
  loginRetries: 8,
  loginRetryTimeoutMs: 15_000,
  refusedRetryMs: 1_000,
  lunScanMs: 15,
  udevDelayMs: 100,
  multipathMapDelayMs: 1_000,
  arrayExportMs: 500,
  discoveryRttMs: 30,
  loginRetryGapMs: 0,
  iscsidServiceMs: 0,
  udevWorkers: 0,
  multipathMapBuildMs: 0,
  mapFlushMs: 0,
  deviceDeleteMs: 0,
  nvmeConnectRttMs: 40,
  nvmeSynTimeoutMs: 3_000,
  nvmeRefusedMs: 1,
  nvmeKeepAliveLossMs: 7_500,
  nvmeTeardownMs: 4_500,
  nvmeDisconnectMs: 20,
  tcpHandshakeMs: 1,
});

/** Merge a scenario's partial model over the defaults. */
export function latencyModel(partial: Partial<LatencyModel> = {}): LatencyModel {
  return Object.freeze({
    ...DEFAULT_LATENCY,
    ...partial,
    perCommandMs: Object.freeze({ ...DEFAULT_LATENCY.perCommandMs, ...(partial.perCommandMs ?? {}) }),
  });
}

export function commandCostMs(model: LatencyModel, cmd: string): number {
  const base = cmd.split('/').pop() ?? cmd;
  return model.perCommandMs[cmd] ?? model.perCommandMs[base] ?? model.commandMs;
}

/** The login timeout of a dead portal: iscsid's retries × per-try timeout (120 s by default). */
export function deadPortalLoginMs(model: LatencyModel): number {
  return model.loginRetries * model.loginRetryTimeoutMs;
}

export type PortalKind = 'healthy' | 'slow' | 'refusing' | 'dead';

export interface FloorPortal {
  readonly kind: PortalKind;
  /** Extra one-way latency for `slow` portals (added to each round trip). */
  readonly latencyMs?: number;
}

export interface FloorInput {
  readonly latency: LatencyModel;
  /** The portals of the volume being attached. */
  readonly portals: readonly FloorPortal[];
  /** Whether the attach is multipath and a dm map can appear at all. */
  readonly multipathMap: boolean;
}

export interface DataPlaneFloor {
  readonly totalMs: number;
  readonly exportMs: number;
  readonly pathMs: number;
  readonly mapMs: number;
  /** False when no portal is reachable: no attach can succeed, the floor is infinite. */
  readonly reachable: boolean;
}

/**
 * The fastest a correct initiator could attach: the array exports the LUN; single path, the
 * initiator logs in to the quickest reachable portal — a process (`iscsiadm --login`: its start, iscsid's own time
 * and the round trip; no initiator on open-iscsi logs in without one) —, scans the LUN, udev
 * creates the link, and (multipath) the map exists over that first path: multipathd builds it
 * from udev's event after `multipathMapDelayMs`. Asking for it (`multipathd add path`) costs the
 * command's start and multipathd's build, which on the storage host guest came to more than
 * that (the `calibrated` scenario: 181 + 201 ms against 201 ms, scaled), and `add path` before
 * udev has handled the disk answers `fail`: the event's time is the floor. Multipath waits for
 * every reachable portal's path in the map (`everyPathInMap`).
 * Dead and refusing portals cost nothing here — a perfect initiator would not wait for them —
 * which is exactly why the seed's 254 s attach is so far from its floor. Everything else a
 * connector runs (node records, lookups, `multipath -a`) is its own cost, outside the floor.
 */
export function dataPlaneFloor(input: FloorInput): DataPlaneFloor {
  const m = input.latency;
  const reachable = input.portals.filter((p) => p.kind === 'healthy' || p.kind === 'slow');
  const exportMs = m.arrayExportMs;
  if (reachable.length === 0) {
    return { totalMs: Number.POSITIVE_INFINITY, exportMs, pathMs: Number.POSITIVE_INFINITY, mapMs: 0, reachable: false };
  }
  if (!input.multipathMap) {
    const login = commandCostMs(m, 'iscsiadm') + m.iscsidServiceMs;
    const pathMs = Math.min(
      ...reachable.map((p) => login + m.loginRttMs + 2 * (p.latencyMs ?? 0) + m.lunScanMs + 2 * (p.latencyMs ?? 0) + m.udevDelayMs),
    );
    return { totalMs: exportMs + pathMs, exportMs, pathMs, mapMs: 0, reachable: true };
  }
  const { pathMs, mapMs } = everyPathInMap(m, reachable);
  return { totalMs: exportMs + pathMs + mapMs, exportMs, pathMs, mapMs, reachable: true };
}

/**
 * Multipath: the map is the volume only once every reachable portal's path is in it (a map on one
 * of two live paths is a volume that loses I/O with one portal, which the caller asked
 * multipath to prevent; os-brick too waits for every login). All logins are asked for at once;
 * iscsid serves them one at a time (`iscsidServiceMs` each, the quickest portal first), each
 * path's LUN scan follows its login, udev handles the disks' events with its workers, and
 * multipathd puts each path in the map `multipathMapDelayMs` after its event, building one at a
 * time (`multipathMapBuildMs`). The map is built on the first path (and any linked by then); a
 * path multipathd reads before udev has handled the new map (`udevDelayMs` after it) waits for
 * that and joins by one more build (multipath-tools 0.9.4: "delaying path addition until … is
 * fully initialized"). `pathMs`: until the last disk is linked; `mapMs`: from then until the
 * last path is in the map. With one reachable portal: its path and the map delay.
 */
function everyPathInMap(m: LatencyModel, reachable: readonly FloorPortal[]): { pathMs: number; mapMs: number } {
  const lat = reachable.map((p) => p.latencyMs ?? 0).sort((a, b) => a - b);
  const disks = lat.map((l, k) => commandCostMs(m, 'iscsiadm') + (k + 1) * m.iscsidServiceMs + m.loginRttMs + 2 * l + m.lunScanMs + 2 * l).sort((a, b) => a - b);
  // udev: `udevWorkers` at once (0: no limit), each event `udevDelayMs`, first come first served.
  const udev = (events: readonly number[]): number[] => {
    const workers = m.udevWorkers > 0 ? Array.from({ length: m.udevWorkers }, () => 0) : null;
    const done = events.map(() => 0);
    const order = events.map((at, i) => ({ at, i })).sort((a, b) => a.at - b.at || a.i - b.i);
    for (const { at, i } of order) {
      if (workers === null) {
        done[i] = at + m.udevDelayMs;
        continue;
      }
      const w = workers.indexOf(Math.min(...workers));
      done[i] = Math.max(at, workers[w] ?? 0) + m.udevDelayMs;
      workers[w] = done[i] ?? 0;
    }
    return done;
  };
  const build = m.multipathMapBuildMs;
  const readAndBuild = (at: number, busyUntil: number): number => Math.max(at + m.multipathMapDelayMs - build, busyUntil) + build;
  // The map is made on the first linked disk; udev's event on the new map queues with the disks'.
  const created = readAndBuild(Math.min(...udev(disks)), 0);
  const withMap = udev([...disks, created]);
  const linked = withMap.slice(0, disks.length);
  const initializedAt = withMap[disks.length] ?? created;
  let mapped = created;
  for (const at of [...linked].sort((a, b) => a - b)) {
    if (at <= created) continue; // linked by the time the map was made: in it
    const done = readAndBuild(at, mapped);
    mapped = done < initializedAt ? Math.max(initializedAt, mapped) + build : done;
  }
  const pathMs = Math.max(...linked);
  return { pathMs, mapMs: mapped - pathMs };
}

/**
 * NVMe/TCP's floor: the array admits the host NQN; the initiator connects to the quickest
 * reachable portal (an `nvme connect`: the process, the TCP and fabrics round trips, Identify),
 * the kernel adds the namespace's device, and udev links it. Dead and refusing portals cost
 * no wait: a perfect initiator does not wait for them. But it cannot skip them blind: the kernel
 * creates one controller at a time (`nvmf_dev_mutex`), and a connect to a dropping portal that
 * takes the lock first holds it for the SYN timeout. So when some portal of the volume is
 * unreachable, the floor adds one TCP handshake to the portal it connects to (`tcpHandshakeMs`
 * + its latency both ways): no initiator can tell which portal answers without asking, and
 * guessing wrong costs the timeout. With every portal reachable any first connect is right, so
 * nothing is added (Hitch, which probes anyway, pays that handshake above the floor). `pathMs`
 * is the connect's own floor (the export belongs to `initialize_connection`).
 */
export function nvmeDataPlaneFloor(input: { readonly latency: LatencyModel; readonly portals: readonly FloorPortal[] }): DataPlaneFloor {
  const m = input.latency;
  const reachable = input.portals.filter((p) => p.kind === 'healthy' || p.kind === 'slow');
  const exportMs = m.arrayExportMs;
  if (reachable.length === 0) return { totalMs: Number.POSITIVE_INFINITY, exportMs, pathMs: Number.POSITIVE_INFINITY, mapMs: 0, reachable: false };
  const learn = (p: FloorPortal): number => (reachable.length < input.portals.length ? m.tcpHandshakeMs + 2 * (p.latencyMs ?? 0) : 0);
  const pathMs = Math.min(...reachable.map((p) => learn(p) + commandCostMs(m, 'nvme') + m.nvmeConnectRttMs + 2 * (p.latencyMs ?? 0) + m.udevDelayMs));
  return { totalMs: exportMs + pathMs, exportMs, pathMs, mapMs: 0, reachable: true };
}
