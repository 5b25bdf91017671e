/**
 * The fidelity suite's scenes: the states an attach and a detach pass through, driven the same
 * way on a real Linux storage host (the storage host guest: `LinuxHost` over Debian 12's kernel,
 * udev, iscsid, multipathd, tgt and LIO) and on the simulator (`SimHost`), each recorded by a
 * `Recorder` through the Host port. `compare.ts` holds the two records side by side.
 *
 * A scene starts from a clean host with its `setup` (multipathd's `find_multipaths`, iscsid.conf's
 * login timeouts, the targets). What is not a Host call — dropping a portal's packets, holding
 * udev's queue, keeping a device open, waiting for the daemons to go quiet — goes through the
 * `FidelityWorld`, which each side implements its own way: that is the environment, not an
 * answer, and is never compared.
 *
 * Names are those of the guest: tgt on every loopback address at port 3260 (`P1`, `P2`), LIO on
 * 127.0.0.1 and 127.0.0.2 at port 3262, nothing listening at 127.0.0.1:3261. The simulator's
 * scene world (`sim-world.ts`) builds the same topology.
 */
import type { Host } from '../../ports/host.ts';
import { writeNodeRecord } from '../../brick/tools/node-record.ts';
import { Trace } from '../../trace/span.ts';
import type { Observation } from './observe.ts';
import { Recorder } from './observe.ts';

export const P1 = '127.0.0.1:3260';
export const P2 = '127.0.0.2:3260';
/** Nothing listens here: connections are refused. */
export const REFUSED = '127.0.0.1:3261';
export const LIO_P1 = '127.0.0.1:3262';
export const LIO_P2 = '127.0.0.2:3262';
/** The tgt target every scene exports (LUN 1, 32 MiB). */
export const TGT_IQN = 'iqn.2010-10.org.openstack:volume-fidelity';
/** The LIO target of the `discovery-lio` scene (LUN 1, 32 MiB, a fileio backstore with this unit serial). */
export const LIO_IQN = 'iqn.2003-01.org.linux-iscsi.hitch:fidelity';
export const LIO_SERIAL = '4e1d3c2b-5a69-4f78-8e97-a6b5c4d3e2f1';
export const LUN_BYTES = 32 * 1024 * 1024;
/** The NVMe/TCP subsystem of the `nvme` scene (nvmet in the guest), on NVME_P1 and NVME_P2, any host admitted. */
export const NVME_NQN = 'nqn.2014-08.org.hitch:fidelity';
/** Its serial (nvmet's `attr_serial`: set, so both sides agree; nvmet's own is random). */
export const NVME_SERIAL = '4e1d3c2b5a694f788e97';
export const NVME_NAMESPACES = [
  { nsid: 1, uuid: '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a51', bytes: 64 * 1024 * 1024 },
  { nsid: 2, uuid: '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a52', bytes: 32 * 1024 * 1024 },
] as const;
export const NVME_P1 = '127.0.0.1:4420';
export const NVME_P2 = '127.0.0.2:4420';
/** Nothing listens here: NVMe/TCP connects are refused. */
export const NVME_REFUSED = '127.0.0.1:4421';

export type FindMultipaths = 'no' | 'yes' | 'strict';

export interface SceneSetup {
  /** multipathd's `find_multipaths`; null: multipathd is not running. */
  readonly findMultipaths: FindMultipaths | null;
  /** multipath.conf blacklists every WWID (`wwid ".*"`). */
  readonly blacklistAll?: boolean;
  /** iscsid.conf: `node.conn[0].timeo.login_timeout` (s) and `node.session.initial_login_retry_max`. */
  readonly login: { readonly loginTimeoutS: number; readonly retryMax: number };
  /** Export the LIO target too. */
  readonly lio?: boolean;
  /** The tgt target asks for CHAP with this account. */
  readonly chap?: { readonly username: string; readonly password: string };
  /** Export the NVMe/TCP subsystem (NVME_NQN) through nvmet too. */
  readonly nvme?: boolean;
}

/** What a scene may do to its world besides Host calls. */
export interface FidelityWorld {
  readonly host: Host;
  /** Wait until udev and multipathd have handled every event there is (real: `udevadm settle` and a pause; simulator: virtual time). */
  settle(): Promise<void>;
  /** Drop every packet to and from `ip`'s iSCSI port 3260 (the portal looks dead); `liftDrop` ends it. */
  dropPortal(ip: string): Promise<void>;
  /** The same for `ip`'s NVMe/TCP port 4420; `liftDrop` ends it too. */
  dropNvmePortal(ip: string): Promise<void>;
  liftDrop(): Promise<void>;
  /** Stop udev's event processing (`udevadm control --stop-exec-queue`); `releaseUdev` resumes it. */
  holdUdev(): Promise<void>;
  releaseUdev(): Promise<void>;
  /** Keep `/dev/<dev>` open (as QEMU holds a guest's disk) until the returned function runs. */
  holdOpen(dev: string): Promise<() => Promise<void>>;
  /** Connection attempts (SYNs) sent to `ip`'s port 3260 while it is dropped: a login iscsid is working on. */
  loginAttempts(ip: string): Promise<number>;
}

export interface Scene {
  readonly setup: SceneSetup;
  readonly run: (w: FidelityWorld, r: Recorder) => Promise<void>;
}

const SHORT = { loginTimeoutS: 3, retryMax: 2 } as const;

// --- plumbing reads (not observations: how a scene finds its way) ---------------------------

async function sidOf(host: Host, portal: string, iqn = TGT_IQN): Promise<string | null> {
  const [ip, port] = [portal.slice(0, portal.lastIndexOf(':')), portal.slice(portal.lastIndexOf(':') + 1)];
  for (const s of await host.readdir('/sys/class/iscsi_session').catch(() => [] as string[])) {
    const sid = s.replace('session', '');
    const [name, addr, p] = await Promise.all(
      [`/sys/class/iscsi_session/${s}/targetname`, `/sys/class/iscsi_connection/connection${sid}:0/persistent_address`, `/sys/class/iscsi_connection/connection${sid}:0/persistent_port`].map((f) =>
        host.readFile(f).then(
          (t) => t.trim(),
          () => '',
        ),
      ),
    );
    if (name === iqn && addr === ip && p === port) return sid;
  }
  return null;
}

/** `/sys/class/scsi_host/hostH/scan` of the session to `portal`. */
async function scanFileOf(host: Host, portal: string, iqn = TGT_IQN): Promise<string> {
  const sid = await sidOf(host, portal, iqn);
  const real = sid === null ? '' : await host.realpath(`/sys/class/iscsi_session/session${sid}`).catch(() => '');
  const h = /\/host(\d+)\/session\d+\//.exec(real)?.[1];
  return `/sys/class/scsi_host/host${h ?? 'NONE'}/scan`;
}

function byPath(portal: string, iqn = TGT_IQN, lun = 1): string {
  return `/dev/disk/by-path/ip-${portal}-iscsi-${iqn}-lun-${lun}`;
}

async function diskOf(host: Host, portal: string, iqn = TGT_IQN): Promise<string> {
  return (await host.realpath(byPath(portal, iqn)).catch(() => '/dev/NONE')).split('/').pop() ?? 'NONE';
}

async function wwnOf(host: Host, dev: string): Promise<string> {
  const w = (await host.readFile(`/sys/block/${dev}/device/wwid`).catch(() => 'naa.NONE')).trim();
  return w.startsWith('naa.') ? `3${w.slice(4)}` : w;
}

/** The dm map holding `dev`, if any. */
async function mapOf(host: Host, dev: string): Promise<string | null> {
  return (await host.readdir(`/sys/block/${dev}/holders`).catch(() => [] as string[]))[0] ?? null;
}

const node = (portal: string, iqn = TGT_IQN): string[] => ['-m', 'node', '-T', iqn, '-p', portal];

/** Brick's own node record (a file, manual scan), as Hitch writes it before a login. */
async function brickRecord(host: Host, portal: string, iqn = TGT_IQN): Promise<void> {
  const ctx = { host, span: new Trace(host.clock).root() };
  if (!(await writeNodeRecord(ctx, '/etc/iscsi/nodes', { portal, iqn, lun: 1 }, null))) throw new Error('fidelity: the host took no node record file');
}

/** Log in to `portal` and scan LUN 1 there; wait for udev's link and for the daemons to settle. */
async function attachPath(w: FidelityWorld, r: Recorder, tag: string, portal: string): Promise<string> {
  await r.exec(`${tag}/login`, 'iscsiadm', [...node(portal), '--login']);
  await r.write(`${tag}/scan`, await scanFileOf(w.host, portal), '0 0 1');
  await r.wait(`${tag}/by-path`, byPath(portal), 60_000);
  await w.settle();
  return diskOf(w.host, portal);
}

/** Tear a path down as brick does: flush, delete the disk, log out, delete the record. */
async function detachPath(w: FidelityWorld, r: Recorder, tag: string, portal: string): Promise<void> {
  const dev = await diskOf(w.host, portal);
  await r.exec(`${tag}/flushbufs`, 'blockdev', ['--flushbufs', `/dev/${dev}`]);
  await r.write(`${tag}/delete`, `/sys/block/${dev}/device/delete`, '1');
  await r.wait(`${tag}/disk-gone`, `/sys/block/${dev}`, 30_000, true);
  await r.exec(`${tag}/logout`, 'iscsiadm', [...node(portal), '--logout']);
  await r.exec(`${tag}/record-delete`, 'iscsiadm', [...node(portal), '--op', 'delete']);
}

async function flushMapOf(w: FidelityWorld, r: Recorder, tag: string, portal: string): Promise<void> {
  const dev = await diskOf(w.host, portal);
  const dm = await mapOf(w.host, dev);
  if (dm === null) return;
  await r.exec(`${tag}/flushbufs-map`, 'blockdev', ['--flushbufs', `/dev/${dm}`]);
  await r.exec(`${tag}/flush-map`, 'multipath', ['-f', await wwnOf(w.host, dev)]);
  await w.settle();
}

const mapLink = (wwn: string): string => `/dev/disk/by-id/dm-uuid-mpath-${wwn}`;

async function multipathViews(r: Recorder, tag: string): Promise<void> {
  await r.exec(`${tag}/multipath-ll`, 'multipath', ['-ll']);
  await r.exec(`${tag}/show-maps`, 'multipathd', ['show', 'maps']);
  await r.exec(`${tag}/show-paths`, 'multipathd', ['show', 'paths']);
}

/** One path attached, `multipathd add path` asked for a map, and what came of it. */
async function addPathScene(w: FidelityWorld, r: Recorder, then: (dev: string, wwn: string) => Promise<void>): Promise<void> {
  await brickRecord(w.host, P1);
  const dev = await attachPath(w, r, 'p1', P1);
  const wwn = await wwnOf(w.host, dev);
  await r.exec('add-path', 'multipathd', ['add', 'path', `/dev/${dev}`]);
  await r.wait('add-path/map', mapLink(wwn), 5_000);
  await w.settle();
  await r.snapshot('add-path/state');
  await multipathViews(r, 'add-path');
  await then(dev, wwn);
  await flushMapOf(w, r, 'end', P1);
  await detachPath(w, r, 'end/p1', P1);
  await r.snapshot('end/state');
}

// --- NVMe/TCP ---------------------------------------------------------------------------

const nvmeConnect = (hostNqn: string, portal: string, nqn = NVME_NQN, extra: string[] = []): string[] => {
  const i = portal.lastIndexOf(':');
  return ['connect', '-t', 'tcp', '-a', portal.slice(0, i), '-s', portal.slice(i + 1), '-n', nqn, '-q', hostNqn, ...extra];
};

/** The controller (`nvmeN`) of NVME_NQN to `portal`, by its sysfs: null when there is none. */
async function nvmeCtrlTo(host: Host, portal: string): Promise<string | null> {
  const i = portal.lastIndexOf(':');
  const [ip, port] = [portal.slice(0, i), portal.slice(i + 1)];
  for (const c of await host.readdir('/sys/class/nvme').catch(() => [] as string[])) {
    const [nqn = '', addr = ''] = await Promise.all([`/sys/class/nvme/${c}/subsysnqn`, `/sys/class/nvme/${c}/address`].map((f) => host.readFile(f).then((t) => t.trim(), () => '')));
    if (nqn === NVME_NQN && addr.startsWith(`traddr=${ip},trsvcid=${port}`)) return c;
  }
  return null;
}

async function nvmeState(host: Host, ctrl: string | null): Promise<string> {
  return ctrl === null ? 'gone' : (await host.readFile(`/sys/class/nvme/${ctrl}/state`).catch(() => 'gone')).trim();
}

const CTRL_ATTRS = ['state', 'address', 'transport', 'subsysnqn', 'cntlid', 'model', 'serial', 'firmware_rev', 'ctrl_loss_tmo', 'reconnect_delay'] as const;
const SUBSYS_ATTRS = ['subsysnqn', 'model', 'serial', 'firmware_rev', 'iopolicy'] as const;
const NS_ATTRS = ['uuid', 'nguid', 'nsid', 'wwid', 'ro', 'size'] as const;

/** What the kernel and udev show of NVMe: controllers, subsystems, namespace devices, links. */
async function nvmeViews(w: FidelityWorld, r: Recorder, tag: string): Promise<void> {
  const nvme = (e: string): boolean => e.startsWith('nvme');
  await r.list(`${tag}/class-nvme`, '/sys/class/nvme');
  const ctrls = (await w.host.readdir('/sys/class/nvme').catch(() => [] as string[])).sort();
  for (const [i, c] of ctrls.entries()) {
    for (const a of CTRL_ATTRS) await r.read(`${tag}/ctrl${i}/${a}`, `/sys/class/nvme/${c}/${a}`);
    await r.list(`${tag}/ctrl${i}/entries`, `/sys/class/nvme/${c}`, nvme);
  }
  await r.list(`${tag}/class-nvme-subsystem`, '/sys/class/nvme-subsystem');
  const subs = (await w.host.readdir('/sys/class/nvme-subsystem').catch(() => [] as string[])).sort();
  for (const [i, sub] of subs.entries()) {
    for (const a of SUBSYS_ATTRS) await r.read(`${tag}/subsys${i}/${a}`, `/sys/class/nvme-subsystem/${sub}/${a}`);
    await r.list(`${tag}/subsys${i}/entries`, `/sys/class/nvme-subsystem/${sub}`, nvme);
  }
  await r.list(`${tag}/block`, '/sys/block', nvme);
  const devs = (await w.host.readdir('/sys/block').catch(() => [] as string[])).filter(nvme).sort();
  for (const d of devs) for (const a of NS_ATTRS) await r.read(`${tag}/${d.replace(/\d+/g, '#')}-${devs.indexOf(d)}/${a}`, `/sys/block/${d}/${a}`);
  await r.links(`${tag}/by-id`, '/dev/disk/by-id', (e) => e.startsWith('nvme-'));
}

export const SCENES: Readonly<Record<string, Scene>> = {
  /**
   * Node records: new, again, update, delete, show; a record written as a file (as brick does);
   * SendTargets discovery (tgt answers the portal asked) replacing it; a second record beside
   * the discovered one, and the login through both (exit 15).
   */
  'node-records': {
    setup: { findMultipaths: 'no', login: SHORT },
    run: async (w, r) => {
      await r.exec('empty/node-list', 'iscsiadm', ['-m', 'node']);
      await r.exec('empty/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('new', 'iscsiadm', [...node(P1), '--interface', 'default', '--op', 'new']);
      await r.exec('new-again', 'iscsiadm', [...node(P1), '--interface', 'default', '--op', 'new']);
      await r.exec('new/list', 'iscsiadm', ['-m', 'node']);
      await r.exec('new/show', 'iscsiadm', node(P1));
      await r.read('new/file', `/etc/iscsi/nodes/${TGT_IQN}/127.0.0.1,3260`);
      await r.exec('update/scan', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.scan', '-v', 'manual']);
      await r.exec('update/authmethod', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.auth.authmethod', '-v', 'CHAP']);
      await r.exec('update/username', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.auth.username', '-v', 'hitchuser']);
      await r.exec('update/password', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.auth.password', '-v', 'Secret-123456']);
      await r.exec('update/unknown-name', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.bogus', '-v', '1']);
      await r.exec('update/bad-value', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.scan', '-v', 'sometimes']);
      await r.exec('update/lookup-key', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.conn[0].port', '-v', '3270']);
      await r.exec('update/show', 'iscsiadm', node(P1));
      await r.read('update/file', `/etc/iscsi/nodes/${TGT_IQN}/127.0.0.1,3260`);
      await r.exec('delete', 'iscsiadm', [...node(P1), '--op', 'delete']);
      await r.exec('delete-again', 'iscsiadm', [...node(P1), '--op', 'delete']);
      await r.exec('delete/show', 'iscsiadm', node(P1));
      await r.tree('delete/tree', '/etc/iscsi/nodes');
      // Brick's record, a file of its own making.
      await brickRecord(w.host, P2);
      await r.read('file/content', `/etc/iscsi/nodes/${TGT_IQN}/127.0.0.2,3260`);
      await r.exec('file/list', 'iscsiadm', ['-m', 'node']);
      await r.exec('file/show', 'iscsiadm', node(P2));
      // Discovery at the same portal: tgt answers with the portal asked, and the record is replaced.
      await r.exec('discovery', 'iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', P2]);
      await r.tree('discovery/tree', '/etc/iscsi/nodes');
      await r.exec('discovery/list', 'iscsiadm', ['-m', 'node']);
      await r.exec('discovery/show', 'iscsiadm', node(P2));
      // A second record of the same portal beside the discovered one.
      await r.exec('duplicate/new', 'iscsiadm', [...node(P2), '--interface', 'default', '--op', 'new']);
      await r.tree('duplicate/tree', '/etc/iscsi/nodes');
      await r.exec('duplicate/list', 'iscsiadm', ['-m', 'node']);
      await r.exec('duplicate/login', 'iscsiadm', [...node(P2), '--login']);
      await r.exec('duplicate/session-list', 'iscsiadm', ['-m', 'session']);
      await w.settle();
      await r.snapshot('duplicate/state');
      await r.exec('duplicate/logout', 'iscsiadm', [...node(P2), '--logout']);
      await r.exec('duplicate/delete', 'iscsiadm', [...node(P2), '--op', 'delete']);
      // A stray file in a target's directory (what an atomic record write leaves for a moment:
      // its temporary file) while iscsiadm walks the records.
      await r.exec('stray/new', 'iscsiadm', [...node(P1), '--interface', 'default', '--op', 'new']);
      await r.write('stray/write', `/etc/iscsi/nodes/${TGT_IQN}/.127.0.0.1,3260.fidelity.tmp`, '# BEGIN RECORD\n');
      await r.exec('stray/node-list', 'iscsiadm', ['-m', 'node']);
      await r.exec('stray/show', 'iscsiadm', node(P1));
      await r.exec('stray/login', 'iscsiadm', [...node(P1), '--login']);
      await r.exec('stray/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('stray/logout', 'iscsiadm', [...node(P1), '--logout']);
      await r.exec('stray/delete', 'iscsiadm', [...node(P1), '--op', 'delete']);
      await r.tree('end/tree', '/etc/iscsi/nodes');
      await w.settle();
      await r.snapshot('end/state');
    },
  },

  /**
   * A two-portal attach and its detach, state by state: records (iscsiadm's and brick's),
   * logins, a second login (exit 15), targeted scans (a LUN that is not there, then LUN 1),
   * disks and udev's links, the map multipathd builds (recovery_tmo lowered), the map in use,
   * flush, device delete, logout.
   */
  'attach-detach': {
    setup: { findMultipaths: 'no', login: SHORT },
    run: async (w, r) => {
      await r.exec('p1/new', 'iscsiadm', [...node(P1), '--interface', 'default', '--op', 'new']);
      await r.exec('p1/manual', 'iscsiadm', [...node(P1), '--op', 'update', '-n', 'node.session.scan', '-v', 'manual']);
      await brickRecord(w.host, P2);
      await r.exec('p1/login', 'iscsiadm', [...node(P1), '--login']);
      await r.exec('p1/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('p1/login-again', 'iscsiadm', [...node(P1), '--login']);
      await r.snapshot('p1/logged-in');
      const scan1 = await scanFileOf(w.host, P1);
      await r.write('p1/scan-missing-lun', scan1, '0 0 7');
      await r.list('p1/after-missing-lun', '/sys/block', (e) => e.startsWith('sd'));
      await r.write('p1/scan', scan1, '0 0 1');
      await r.wait('p1/by-path', byPath(P1), 60_000);
      await w.settle();
      const sd1 = await diskOf(w.host, P1);
      await r.snapshot('p1/disk');
      await r.exec('p1/scsi_id', '/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', `/dev/${sd1}`]);
      await r.exec('p1/getro', 'blockdev', ['--getro', `/dev/${sd1}`]);
      await r.exec('p1/getsize64', 'blockdev', ['--getsize64', `/dev/${sd1}`]);
      await multipathViews(r, 'p1');
      await r.exec('p1/status', 'multipathd', ['show', 'status']);
      await r.exec('p2/login', 'iscsiadm', [...node(P2), '--login']);
      await r.exec('p2/session-list', 'iscsiadm', ['-m', 'session']);
      await r.snapshot('p2/logged-in');
      await r.write('p2/scan', await scanFileOf(w.host, P2), '0 0 1');
      await r.wait('p2/by-path', byPath(P2), 60_000);
      await w.settle();
      await r.snapshot('p2/disk');
      await multipathViews(r, 'p2');
      await r.exec('p2/status', 'multipathd', ['show', 'status']);
      const wwn = await wwnOf(w.host, sd1);
      const dm = (await mapOf(w.host, sd1)) ?? 'dm-NONE';
      // The map held open (a guest's disk): it cannot be flushed.
      const release = await w.holdOpen(dm);
      await r.exec('in-use/flushbufs', 'blockdev', ['--flushbufs', `/dev/${dm}`]);
      await r.exec('in-use/flush', 'multipath', ['-f', wwn]);
      await release();
      await w.settle();
      await r.exec('flush', 'multipath', ['-f', wwn]);
      await r.wait('flush/gone', `/dev/${dm}`, 30_000, true);
      await w.settle();
      await r.snapshot('flush/state');
      await r.exec('flush/multipath-ll', 'multipath', ['-ll']);
      await detachPath(w, r, 'p1', P1);
      await detachPath(w, r, 'p2', P2);
      await r.exec('end/logout-again', 'iscsiadm', [...node(P1), '--logout']);
      await r.exec('end/session-list', 'iscsiadm', ['-m', 'session']);
      await w.settle();
      await r.snapshot('end/state');
    },
  },

  /** find_multipaths yes: `add path` on a lone path answers ok and builds nothing; the second path brings the map. */
  'map-yes': {
    setup: { findMultipaths: 'yes', login: SHORT },
    run: (w, r) =>
      addPathScene(w, r, async () => {
        await brickRecord(w.host, P2);
        await attachPath(w, r, 'p2', P2);
        await r.snapshot('p2/state');
        await multipathViews(r, 'p2');
        await flushMapOf(w, r, 'p2', P2);
        await detachPath(w, r, 'p2', P2);
      }),
  },

  /** find_multipaths strict: `add path` answers ok and builds nothing until `multipath -a` records the WWID. */
  'map-strict': {
    setup: { findMultipaths: 'strict', login: SHORT },
    run: (w, r) =>
      addPathScene(w, r, async (dev, wwn) => {
        await r.exec('wwid/add', 'multipath', ['-a', wwn]);
        await r.read('wwid/file', '/etc/multipath/wwids');
        await r.exec('wwid/add-path', 'multipathd', ['add', 'path', `/dev/${dev}`]);
        await r.wait('wwid/map', mapLink(wwn), 10_000);
        await w.settle();
        await r.snapshot('wwid/state');
        await multipathViews(r, 'wwid');
      }),
  },

  /** A blacklisted WWID: `add path` answers `blacklisted`, `multipath -a` refuses it; no map. */
  'map-blacklisted': {
    setup: { findMultipaths: 'no', blacklistAll: true, login: SHORT },
    run: (w, r) =>
      addPathScene(w, r, async (_dev, wwn) => {
        await r.exec('wwid/add', 'multipath', ['-a', wwn]);
        await r.read('wwid/file', '/etc/multipath/wwids');
      }),
  },

  /** multipathd not running: its client answers exit 1 and nothing; multipath itself still runs. */
  'map-stopped': {
    setup: { findMultipaths: null, login: SHORT },
    run: (w, r) =>
      addPathScene(w, r, async (_dev, wwn) => {
        await r.exec('status', 'multipathd', ['show', 'status']);
        await r.exec('wwid/add', 'multipath', ['-a', wwn]);
        await r.read('wwid/file', '/etc/multipath/wwids');
      }),
  },

  /**
   * `multipathd add path` while udev has not yet handled the new disk (its queue held): what
   * multipathd answers, and what becomes of the path once udev has handled it.
   */
  'udev-race': {
    setup: { findMultipaths: 'no', login: SHORT },
    run: async (w, r) => {
      await brickRecord(w.host, P1);
      await r.exec('login', 'iscsiadm', [...node(P1), '--login']);
      const scan = await scanFileOf(w.host, P1);
      await w.holdUdev();
      await r.write('scan', scan, '0 0 1');
      // sd registers the disk a moment after the scan's write returns (its probe is asynchronous).
      await r.until('disk', 'a disk in /sys/block', async () => (await w.host.readdir('/sys/block')).some((e) => e.startsWith('sd')), 10_000);
      await r.exists('no-link-yet', byPath(P1));
      const dev = (await w.host.readdir('/sys/block').catch(() => [] as string[])).find((e) => e.startsWith('sd')) ?? 'NONE';
      await r.exec('add-path', 'multipathd', ['add', 'path', `/dev/${dev}`]);
      await r.exec('add-path/show-paths', 'multipathd', ['show', 'paths']);
      await r.exec('add-path/show-maps', 'multipathd', ['show', 'maps']);
      await w.releaseUdev();
      await r.wait('by-path', byPath(P1), 60_000);
      const wwn = await wwnOf(w.host, dev);
      await r.wait('map', mapLink(wwn), 10_000);
      await w.settle();
      await r.snapshot('after-udev');
      await multipathViews(r, 'after-udev');
      await flushMapOf(w, r, 'end', P1);
      await detachPath(w, r, 'end/p1', P1);
      await r.snapshot('end/state');
    },
  },

  /**
   * Logins to a dead portal (packets dropped) and to a closed one: the timeout (exit 8) from the
   * record's own timeouts; a login whose caller is killed goes on in iscsid — invisible while
   * pending (no session; `--login` answers 15, `--logout` 21), done once the portal answers
   * again, even with its record deleted — and the session it leaves.
   */
  'dead-login': {
    setup: { findMultipaths: 'no', login: SHORT },
    run: async (w, r) => {
      await r.exec('p2/new', 'iscsiadm', [...node(P2), '--interface', 'default', '--op', 'new']);
      await w.dropPortal('127.0.0.2');
      await r.exec('timeout', 'iscsiadm', [...node(P2), '--login']);
      await r.exec('timeout/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('longer/login-timeout', 'iscsiadm', [...node(P2), '--op', 'update', '-n', 'node.conn[0].timeo.login_timeout', '-v', '5']);
      await r.exec('longer/retry-max', 'iscsiadm', [...node(P2), '--op', 'update', '-n', 'node.session.initial_login_retry_max', '-v', '6']);
      // Kill the calling iscsiadm once iscsid is at it (its SYNs reach the dropped portal): a
      // fixed delay may kill it before it asked iscsid, on a loaded machine.
      const before = await w.loginAttempts('127.0.0.2');
      const ac = new AbortController();
      const killed = r.exec('killed', 'iscsiadm', [...node(P2), '--login'], { signal: ac.signal });
      await r.until('killed/trying', 'iscsid tries 127.0.0.2', async () => (await w.loginAttempts('127.0.0.2')) > before, 60_000);
      ac.abort();
      await killed;
      await r.exec('pending/session-list', 'iscsiadm', ['-m', 'session']);
      await r.list('pending/sysfs', '/sys/class/iscsi_session');
      await r.exec('pending/login', 'iscsiadm', [...node(P2), '--login']);
      await r.exec('pending/logout', 'iscsiadm', [...node(P2), '--logout']);
      await r.exec('pending/record-delete', 'iscsiadm', [...node(P2), '--op', 'delete']);
      await r.exec('pending/node-list', 'iscsiadm', ['-m', 'node']);
      await w.liftDrop();
      await r.until('late/session', 'a session to 127.0.0.2', async () => (await sidOf(w.host, P2)) !== null, 30_000);
      await r.exec('late/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('late/node-list', 'iscsiadm', ['-m', 'node']);
      await w.settle();
      await r.snapshot('late/state');
      const sid = (await sidOf(w.host, P2)) ?? '0';
      await r.exec('late/logout-by-sid', 'iscsiadm', ['-m', 'session', '-r', sid, '-u']);
      await r.exec('late/session-list-after', 'iscsiadm', ['-m', 'session']);
      // A target the portal does not have.
      const none = 'iqn.2010-10.org.openstack:volume-nosuch';
      await r.exec('unknown-target/new', 'iscsiadm', [...node(P1, none), '--interface', 'default', '--op', 'new']);
      await r.exec('unknown-target/login', 'iscsiadm', [...node(P1, none), '--login']);
      await r.exec('unknown-target/delete', 'iscsiadm', [...node(P1, none), '--op', 'delete']);
      // Nothing listens on 127.0.0.1:3261.
      await r.exec('refused/new', 'iscsiadm', [...node(REFUSED), '--interface', 'default', '--op', 'new']);
      await r.exec('refused/login', 'iscsiadm', [...node(REFUSED), '--login']);
      await r.exec('refused/discovery', 'iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', REFUSED]);
      await r.exec('refused/delete', 'iscsiadm', [...node(REFUSED), '--op', 'delete']);
      await w.settle();
      await r.snapshot('end/state');
    },
  },

  /** LIO's SendTargets answer (every portal of the target, unlike tgt) and a disk LIO serves. */
  'discovery-lio': {
    setup: { findMultipaths: 'no', login: SHORT, lio: true },
    run: async (w, r) => {
      await r.exec('discovery', 'iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', LIO_P1]);
      await r.tree('discovery/tree', '/etc/iscsi/nodes');
      await r.exec('discovery/list', 'iscsiadm', ['-m', 'node']);
      await r.exec('login', 'iscsiadm', [...node(LIO_P1, LIO_IQN), '--login']);
      await r.wait('by-path', byPath(LIO_P1, LIO_IQN), 60_000);
      await w.settle();
      await r.snapshot('disk');
      const dev = await diskOf(w.host, LIO_P1, LIO_IQN);
      await r.exec('scsi_id', '/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', `/dev/${dev}`]);
      await multipathViews(r, 'disk');
      await r.exec('flush', 'multipath', ['-f', await wwnOf(w.host, dev)]);
      await w.settle();
      await r.write('delete', `/sys/block/${dev}/device/delete`, '1');
      await r.wait('disk-gone', `/sys/block/${dev}`, 30_000, true);
      await r.exec('logout', 'iscsiadm', [...node(LIO_P1, LIO_IQN), '--logout']);
      await r.exec('records-delete', 'iscsiadm', ['-m', 'node', '-T', LIO_IQN, '--op', 'delete']);
      await w.settle();
      await r.snapshot('end/state');
    },
  },

  /** CHAP: a wrong secret is refused (exit 24), the right one logs in; the session names the user. */
  chap: {
    setup: { findMultipaths: 'no', login: SHORT, chap: { username: 'hitchuser', password: 'Secret-123456' } },
    run: async (w, r) => {
      const update = (n: string, v: string): string[] => [...node(P1), '--op', 'update', '-n', n, '-v', v];
      await r.exec('new', 'iscsiadm', [...node(P1), '--interface', 'default', '--op', 'new']);
      await r.exec('manual', 'iscsiadm', update('node.session.scan', 'manual'));
      await r.exec('none/login', 'iscsiadm', [...node(P1), '--login']);
      await r.exec('authmethod', 'iscsiadm', update('node.session.auth.authmethod', 'CHAP'));
      await r.exec('username', 'iscsiadm', update('node.session.auth.username', 'hitchuser'));
      await r.exec('wrong/password', 'iscsiadm', update('node.session.auth.password', 'Wrong-999999'));
      await r.exec('wrong/login', 'iscsiadm', [...node(P1), '--login']);
      await r.exec('wrong/session-list', 'iscsiadm', ['-m', 'session']);
      await r.exec('right/password', 'iscsiadm', update('node.session.auth.password', 'Secret-123456'));
      await r.exec('right/login', 'iscsiadm', [...node(P1), '--login']);
      await r.exec('right/show', 'iscsiadm', node(P1));
      await w.settle();
      await r.snapshot('right/state');
      await r.exec('logout', 'iscsiadm', [...node(P1), '--logout']);
      await r.exec('delete', 'iscsiadm', [...node(P1), '--op', 'delete']);
      await r.snapshot('end/state');
    },
  },

  /**
   * A path lost under a map (its portal's packets dropped), and back: what multipath, multipathd,
   * iscsiadm and sysfs say about a failed path, then a recovered one.
   */
  'path-lost': {
    setup: { findMultipaths: 'no', login: SHORT },
    run: async (w, r) => {
      for (const p of [P1, P2]) {
        await r.exec(`${p}/new`, 'iscsiadm', [...node(p), '--interface', 'default', '--op', 'new']);
        await r.exec(`${p}/manual`, 'iscsiadm', [...node(p), '--op', 'update', '-n', 'node.session.scan', '-v', 'manual']);
        await attachPath(w, r, p, p);
      }
      await r.snapshot('up/state');
      const paths = async (): Promise<string> => (await w.host.exec('multipathd', ['show', 'paths'], { okCodes: 'any' })).stdout;
      await w.dropPortal('127.0.0.2');
      await r.until('down/failed', 'multipathd marks the path failed', async () => /failed|faulty/.test(await paths()), 120_000);
      await multipathViews(r, 'down');
      await r.exec('down/status', 'multipathd', ['show', 'status']);
      await r.exec('down/session-P1', 'iscsiadm', ['-m', 'session', '-P', '1']);
      await r.snapshot('down/state');
      await w.liftDrop();
      await r.until('back/active', 'every path active again', async () => {
        const t = await paths();
        return /active/.test(t) && !/failed|faulty/.test(t);
      }, 120_000);
      await w.settle();
      await multipathViews(r, 'back');
      await r.exec('back/status', 'multipathd', ['show', 'status']);
      await r.exec('back/session-P1', 'iscsiadm', ['-m', 'session', '-P', '1']);
      await r.snapshot('back/state');
      await flushMapOf(w, r, 'end', P1);
      await detachPath(w, r, 'end/p1', P1);
      await detachPath(w, r, 'end/p2', P2);
      await r.snapshot('end/state');
    },
  },

  /**
   * NVMe/TCP against nvmet: the host's NQN and native multipath; connects (one portal, again,
   * a refused port, a wrong NQN, the second portal with a short ctrl_loss_tmo); controllers,
   * the subsystem, the heads over hidden paths, udev's links; nvme-cli's JSON; the second
   * portal dropped: resetting, connecting (no src_addr), a connect to the dropped address, the
   * controller removed at ctrl_loss_tmo; disconnects by device and by NQN, and one of a
   * controller that does not exist.
   */
  nvme: {
    setup: { findMultipaths: 'no', login: SHORT, nvme: true },
    run: async (w, r) => {
      const hostNqn = (await w.host.readFile('/etc/nvme/hostnqn').catch(() => '')).trim();
      await r.read('hostnqn', '/etc/nvme/hostnqn');
      await r.read('hostid', '/etc/nvme/hostid');
      await r.read('native-multipath', '/sys/module/nvme_core/parameters/multipath');
      await r.exec('empty/list', 'nvme', ['list', '-o', 'json']);
      await r.exec('empty/list-subsys', 'nvme', ['list-subsys', '-o', 'json']);
      await r.exec('p1/connect', 'nvme', nvmeConnect(hostNqn, NVME_P1));
      const [ua, ub] = [NVME_NAMESPACES[0].uuid, NVME_NAMESPACES[1].uuid];
      await r.wait('p1/link-a', `/dev/disk/by-id/nvme-uuid.${ua}`, 30_000);
      await r.wait('p1/link-b', `/dev/disk/by-id/nvme-uuid.${ub}`, 30_000);
      await w.settle();
      await nvmeViews(w, r, 'p1');
      await r.exec('p1/connect-again', 'nvme', nvmeConnect(hostNqn, NVME_P1));
      await r.exec('refused/connect', 'nvme', nvmeConnect(hostNqn, NVME_REFUSED));
      await r.exec('wrong-nqn/connect', 'nvme', nvmeConnect(hostNqn, NVME_P1, 'nqn.2014-08.org.hitch:nope'));
      await r.list('failed/class-nvme', '/sys/class/nvme');
      await r.exec('p2/connect', 'nvme', nvmeConnect(hostNqn, NVME_P2, NVME_NQN, ['--ctrl-loss-tmo', '10', '--reconnect-delay', '2']));
      await w.settle();
      await nvmeViews(w, r, 'p2');
      await r.exec('p2/list', 'nvme', ['list', '-o', 'json']);
      await r.exec('p2/list-subsys', 'nvme', ['list-subsys', '-o', 'json']);
      const head = (await w.host.realpath(`/dev/disk/by-id/nvme-uuid.${ua}`).catch(() => '/dev/NONE'));
      await r.exec('p2/list-subsys-dev', 'nvme', ['list-subsys', '-o', 'json', head]);
      const c2 = await nvmeCtrlTo(w.host, NVME_P2);
      await w.dropNvmePortal('127.0.0.2');
      await r.until('drop/resetting', 'the controller to 127.0.0.2 leaves live', async () => (await nvmeState(w.host, c2)) !== 'live', 60_000);
      await r.until('drop/connecting', 'the controller to 127.0.0.2 reconnects', async () => (await nvmeState(w.host, c2)) === 'connecting', 60_000);
      await r.read('drop/address', `/sys/class/nvme/${c2 ?? 'NONE'}/address`);
      await r.exec('drop/list-subsys', 'nvme', ['list-subsys', '-o', 'json']);
      await r.exec('drop/connect-again', 'nvme', nvmeConnect(hostNqn, NVME_P2));
      await r.exec('drop/connect-other', 'nvme', nvmeConnect(hostNqn, NVME_P2, 'nqn.2014-08.org.hitch:nope'));
      await r.until('drop/removed', 'the controller to 127.0.0.2 is removed (ctrl_loss_tmo 10 s)', async () => (await nvmeState(w.host, c2)) === 'gone', 120_000);
      await w.settle();
      await nvmeViews(w, r, 'removed');
      await r.exec('removed/list-subsys', 'nvme', ['list-subsys', '-o', 'json']);
      await w.liftDrop();
      const c1 = (await nvmeCtrlTo(w.host, NVME_P1)) ?? 'NONE';
      const sub = (await w.host.readdir('/sys/class/nvme-subsystem').catch(() => [] as string[]))[0] ?? 'NONE';
      await r.exec('end/disconnect-d', 'nvme', ['disconnect', '-d', c1]);
      await r.wait('end/subsystem-gone', `/sys/class/nvme-subsystem/${sub}`, 30_000, true);
      await r.exec('end/disconnect-n', 'nvme', ['disconnect', '-n', NVME_NQN]);
      await r.exec('end/disconnect-d-missing', 'nvme', ['disconnect', '-d', c1]);
      await w.settle();
      await nvmeViews(w, r, 'end');
      await r.exec('end/list', 'nvme', ['list', '-o', 'json']);
    },
  },
};

export interface SceneRecord {
  readonly scene: string;
  readonly observations: readonly Observation[];
  /** Thrown out of the scene (a bug in the scene, or a host that broke a plumbing read). */
  readonly error?: string;
}

/** Run one scene on `world`; every state the scene passes through is in the record. */
export async function runScene(name: string, world: FidelityWorld): Promise<SceneRecord> {
  const scene = SCENES[name];
  if (!scene) throw new Error(`fidelity: no scene ${name} (known: ${Object.keys(SCENES).join(', ')})`);
  const r = new Recorder(world.host);
  try {
    await scene.run(world, r);
    return { scene: name, observations: r.observations };
  } catch (e) {
    return { scene: name, observations: r.observations, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}
