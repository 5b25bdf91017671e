/**
 * Where a simulated host's storage objects live in sysfs and /dev, as the kernel lays them out:
 *
 *   /sys/devices/platform/host2/session1/target2:0:0/2:0:0:1/block/sdb
 *   /sys/class/iscsi_host/host2 -> ../../devices/platform/host2/iscsi_host/host2   (device -> ../..)
 *   /sys/class/scsi_host/host2/scan, /sys/block/sdb -> …/block/sdb, /sys/block/sdb/device -> …/2:0:0:1
 *
 * Links are real links in the simulated tree, so paths that walk through them (os-brick globs
 * `session1/target*` under `/sys/class/iscsi_host/hostN/device`) resolve as on a real host.
 */
import type { ComputeHostConfig, ScsiDisk, SimSession } from './compute-host.ts';
import type { LatencyModel } from './latency.ts';
import { parsePortal } from './network.ts';
import { rel, VfsError, type Vfs } from './vfs.ts';

const INITIATOR_FILE_HEADER = `## DO NOT EDIT OR REMOVE THIS FILE!
## If you remove this file, the iSCSI daemon will not start.
## If you change the InitiatorName, existing access control lists
## may reject this initiator.  The InitiatorName must be unique
## for each iSCSI initiator.  Do NOT duplicate iSCSI InitiatorNames.
`;

/** `sda`, …, `sdz`, `sdaa`, … as the sd driver names disks. */
export function sdName(index: number): string {
  let n = index;
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `sd${s}`;
}

/**
 * The settings of Debian 12's /etc/iscsi/iscsid.conf (open-iscsi 2.1.8, comments left out), in
 * its order; the login timeout and attempts are the latency model's (Debian's: 15 s × 8). New
 * node records start from its `node.*` settings (`iscsiadm -o new`, discovery, and brick's own
 * record files), so a login's retries follow it.
 */
export function iscsidConf(latency: Pick<LatencyModel, 'loginRetryTimeoutMs' | 'loginRetries'>): string {
  return [
    'iscsid.startup = /bin/systemctl start iscsid.socket',
    'node.startup = manual',
    'node.leading_login = No',
    'node.session.timeo.replacement_timeout = 120',
    `node.conn[0].timeo.login_timeout = ${Math.round(latency.loginRetryTimeoutMs / 1000)}`,
    'node.conn[0].timeo.logout_timeout = 15',
    'node.conn[0].timeo.noop_out_interval = 5',
    'node.conn[0].timeo.noop_out_timeout = 5',
    'node.session.err_timeo.abort_timeout = 15',
    'node.session.err_timeo.lu_reset_timeout = 30',
    'node.session.err_timeo.tgt_reset_timeout = 30',
    'node.session.err_timeo.host_reset_timeout = 60',
    `node.session.initial_login_retry_max = ${latency.loginRetries}`,
    'node.session.cmds_max = 128',
    'node.session.queue_depth = 32',
    'node.session.xmit_thread_priority = -20',
    'node.session.iscsi.InitialR2T = No',
    'node.session.iscsi.ImmediateData = Yes',
    'node.session.iscsi.FirstBurstLength = 262144',
    'node.session.iscsi.MaxBurstLength = 16776192',
    'node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144',
    'node.conn[0].iscsi.MaxXmitDataSegmentLength = 0',
    'discovery.sendtargets.iscsi.MaxRecvDataSegmentLength = 32768',
    'node.session.nr_sessions = 1',
    'node.session.reopen_max = 0',
    'node.session.iscsi.FastAbort = Yes',
    'node.session.scan = auto',
    '',
  ].join('\n');
}

/** /etc, the class directories, local disks and FC HBAs of a freshly booted host. */
export function bootstrapHostFs(v: Vfs, config: ComputeHostConfig, latency: LatencyModel): void {
  v.writeText('/etc/iscsi/initiatorname.iscsi', `${INITIATOR_FILE_HEADER}InitiatorName=${config.initiator}\n`);
  v.writeText('/etc/iscsi/iscsid.conf', iscsidConf(latency));
  v.mkdirp(config.iscsiNodesDir);
  v.mkdirp('/etc/multipath');
  v.writeText('/etc/multipath/wwids', '# Multipath wwids, Version : 1.0\n');
  if (config.nvmeHostNqn !== undefined) v.writeText('/etc/nvme/hostnqn', `${config.nvmeHostNqn}\n`);
  for (const d of ['/sys/class/iscsi_host', '/sys/class/scsi_host', '/sys/class/iscsi_session', '/sys/class/iscsi_connection', '/sys/block', '/sys/class/block', '/dev/disk/by-id', '/dev/disk/by-path', '/dev/mapper']) v.mkdirp(d);
  v.writeText('/dev/mapper/control', '');
  for (const disk of config.localDisks) {
    const dir = `/sys/devices/virtual/block/${disk.name}`;
    v.attr(`${dir}/ro`, () => (disk.ro ? '1\n' : '0\n'));
    v.attr(`${dir}/size`, () => `${Math.floor((disk.sizeBytes ?? 0) / 512)}\n`);
    v.mkdirp(`${dir}/holders`);
    v.symlink(`/sys/block/${disk.name}`, rel(`/sys/block/${disk.name}`, dir));
    v.writeText(`/dev/${disk.name}`, '');
  }
  for (const fc of config.fcHosts) {
    const dir = `/sys/devices/pci0000:00/0000:00:03.0/host${fc.host}/fc_host/host${fc.host}`;
    v.attr(`${dir}/port_name`, () => `${fc.portName}\n`);
    v.attr(`${dir}/node_name`, () => `${fc.nodeName}\n`);
    v.attr(`${dir}/port_state`, () => `${fc.portState ?? 'Online'}\n`);
    v.symlink(`/sys/class/fc_host/host${fc.host}`, rel(`/sys/class/fc_host/host${fc.host}`, dir));
  }
}

/** The SCSI host, iSCSI session and connection objects of a logged-in session. */
/**
 * `up()`: whether the session's connection is up. While it is down (its portal unreachable) the
 * kernel shows what Debian 12's does (fidelity scene path-lost): session `state` FREE, and the
 * connection's `address`/`port` and the host's `ipaddress` unreadable (EIO); the persistent
 * address still reads.
 */
export function addSessionNodes(v: Vfs, s: SimSession, host: { readonly initiator: string; readonly ip: string }, up: () => boolean = () => true): void {
  const whileUp = (value: () => string) => (): string => {
    if (!up()) throw new VfsError('EIO', 'connection down');
    return value();
  };
  const H = s.hostNo;
  const hostDir = `/sys/devices/platform/host${H}`;
  // The SCSI target (`targetH:0:0`) appears with the first device a scan finds, not at login.
  v.mkdirp(`${hostDir}/session${s.sid}`);
  const ih = `${hostDir}/iscsi_host/host${H}`;
  v.symlink(`${ih}/device`, rel(`${ih}/device`, hostDir));
  // iscsi_tcp leaves the host's initiator name unset (iscsid keeps it): `(null)` on Debian 12's kernel.
  v.attr(`${ih}/initiatorname`, () => '(null)\n');
  v.attr(`${ih}/ipaddress`, whileUp(() => `${host.ip}\n`));
  v.symlink(`/sys/class/iscsi_host/host${H}`, rel(`/sys/class/iscsi_host/host${H}`, ih));
  const sh = `${hostDir}/scsi_host/host${H}`;
  v.symlink(`${sh}/device`, rel(`${sh}/device`, hostDir));
  v.attr(`${sh}/proc_name`, () => 'iscsi_tcp\n');
  // The write itself is handled by writeSysfs (it costs scan time); this handler only
  // validates, so a direct vfs write of garbage fails like the kernel's EINVAL.
  v.attr(`${sh}/scan`, () => '', (data) => (parseScan(data) === undefined ? 'EINVAL' : undefined));
  v.symlink(`/sys/class/scsi_host/host${H}`, rel(`/sys/class/scsi_host/host${H}`, sh));
  const is = `${hostDir}/session${s.sid}/iscsi_session/session${s.sid}`;
  v.attr(`${is}/targetname`, () => `${s.target}\n`);
  v.attr(`${is}/tpgt`, () => `${s.tpgt}\n`);
  v.attr(`${is}/state`, () => (up() ? 'LOGGED_IN\n' : 'FREE\n'));
  v.attr(`${is}/username`, () => `${s.chapUser ?? '(null)'}\n`);
  v.attr(`${is}/recovery_tmo`, () => `${s.recoveryTmo}\n`);
  // As for every class device with a parent: `device` leads to the session's own directory.
  v.symlink(`${is}/device`, rel(`${is}/device`, `${hostDir}/session${s.sid}`));
  v.symlink(`/sys/class/iscsi_session/session${s.sid}`, rel(`/sys/class/iscsi_session/session${s.sid}`, is));
  const { ip, port } = parsePortal(s.portal);
  const ic = `${hostDir}/session${s.sid}/connection${s.sid}:0/iscsi_connection/connection${s.sid}:0`;
  v.attr(`${ic}/persistent_address`, () => `${ip}\n`);
  v.attr(`${ic}/persistent_port`, () => `${port}\n`);
  v.attr(`${ic}/address`, whileUp(() => `${ip}\n`));
  v.attr(`${ic}/port`, whileUp(() => `${port}\n`));
  v.symlink(`/sys/class/iscsi_connection/connection${s.sid}:0`, rel(`/sys/class/iscsi_connection/connection${s.sid}:0`, ic));
}

export function removeSessionNodes(v: Vfs, s: SimSession): void {
  const H = s.hostNo;
  v.remove(`/sys/class/iscsi_host/host${H}`);
  v.remove(`/sys/class/scsi_host/host${H}`);
  v.remove(`/sys/class/iscsi_session/session${s.sid}`);
  v.remove(`/sys/class/iscsi_connection/connection${s.sid}:0`);
  v.remove(`/sys/devices/platform/host${H}`);
}

export function diskDeviceDir(d: ScsiDisk): string {
  const H = d.session.hostNo;
  return `/sys/devices/platform/host${H}/session${d.session.sid}/target${H}:0:0/${H}:0:0:${d.lun.lun}`;
}

/** A disk's SCSI device and block device attributes, its /sys/block link and /dev node. */
export function addDiskNodes(v: Vfs, d: ScsiDisk, hooks: { readOnly(): boolean; remove(): void; transportUp?(): boolean; rescan(): 'EIO' | undefined }): void {
  const devDir = diskDeviceDir(d);
  v.attr(`${devDir}/wwid`, () => `naa.${d.lun.wwn.slice(1)}\n`);
  v.attr(`${devDir}/vendor`, () => `${d.lun.vendor.padEnd(8)}\n`);
  v.attr(`${devDir}/model`, () => `${d.lun.model.padEnd(16)}\n`);
  // A running disk whose session's connection is down reads `transport-offline` (the kernel's).
  v.attr(`${devDir}/state`, () => `${d.state === 'running' && hooks.transportUp?.() === false ? 'transport-offline' : d.state}\n`, (data) => {
    const want = data.trim();
    if (want !== 'running' && want !== 'offline') return 'EINVAL';
    d.state = want;
    return undefined;
  });
  v.attr(`${devDir}/rescan`, () => '', () => hooks.rescan());
  v.attr(`${devDir}/delete`, () => '', (data) => {
    if (data.trim() !== '1') return 'EINVAL';
    hooks.remove();
    return undefined;
  });
  const blk = `${devDir}/block/${d.name}`;
  v.attr(`${blk}/ro`, () => (hooks.readOnly() ? '1\n' : '0\n'));
  v.attr(`${blk}/size`, () => `${Math.floor(d.capacityBytes / 512)}\n`);
  v.attr(`${blk}/dev`, () => `8:${d.index * 16}\n`);
  v.attr(`${blk}/removable`, () => '0\n');
  v.mkdirp(`${blk}/holders`);
  v.symlink(`${blk}/device`, rel(`${blk}/device`, devDir));
  v.symlink(`/sys/block/${d.name}`, rel(`/sys/block/${d.name}`, blk));
  v.symlink(`/sys/class/block/${d.name}`, rel(`/sys/class/block/${d.name}`, blk));
  // devtmpfs creates the node with the device; udev's links come later.
  v.writeText(`/dev/${d.name}`, '');
}

/** tgt's LUN 0, a controller: a SCSI device with no disk (`H:0:0:0` under the target). */
export function addControllerNode(v: Vfs, s: SimSession): void {
  const dir = `/sys/devices/platform/host${s.hostNo}/session${s.sid}/target${s.hostNo}:0:0/${s.hostNo}:0:0:0`;
  if (v.lookup(dir) !== undefined) return;
  v.attr(`${dir}/type`, () => '12\n');
  v.attr(`${dir}/vendor`, () => 'IET     \n');
  v.attr(`${dir}/model`, () => 'Controller      \n');
}

/**
 * udev's /dev links for a disk (Debian 12's rules): by-path, and by-id from its VPD pages —
 * `scsi-<WWN>` and `wwn-0x<NAA>` for every array; tgt adds its T10 vendor id, a locally assigned
 * NAA and vendor/model/serial names (`scsi-1IET_00010001`, `scsi-33000000100000001`,
 * `scsi-SIET_VIRTUAL-DISK_beaf11`), LIO its T10 id and serial name (`scsi-1LIO-ORG_FILEIO:<uuid>`,
 * `scsi-SLIO-ORG_FILEIO_<uuid>`).
 */
export function diskLinks(d: ScsiDisk, byPath: string): string[] {
  const links = [byPath, `/dev/disk/by-id/scsi-${d.lun.wwn}`, `/dev/disk/by-id/wwn-0x${d.lun.wwn.slice(1)}`];
  const t = d.session.found;
  if (t.array.kind === 'tgt') {
    const tid = t.target.tid;
    const lun = d.lun.lun;
    const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
    links.push(
      `/dev/disk/by-id/scsi-1IET_${hex(tid, 4)}${hex(lun, 4)}`,
      `/dev/disk/by-id/scsi-33${hex(tid, 7)}${hex(lun, 8)}`,
      `/dev/disk/by-id/scsi-S${d.lun.vendor}_${d.lun.model}_beaf${tid}${lun}`,
    );
  }
  if (t.array.kind === 'lio' && d.lun.serial !== undefined) {
    links.push(`/dev/disk/by-id/scsi-1${d.lun.vendor}_${d.lun.model}:${d.lun.serial}`, `/dev/disk/by-id/scsi-S${d.lun.vendor}_${d.lun.model}_${d.lun.serial}`);
  }
  return links;
}

export function removeDiskNodes(v: Vfs, d: ScsiDisk): void {
  v.remove(diskDeviceDir(d));
  // The kernel reaps a SCSI target with no device left.
  const target = diskDeviceDir(d).replace(/\/[^/]+$/, '');
  if (v.lookup(target)?.kind === 'dir' && !v.readdir(target).some((e) => /^\d+:\d+:\d+:\d+$/.test(e))) v.remove(target);
  v.remove(`/sys/block/${d.name}`);
  v.remove(`/sys/class/block/${d.name}`);
  v.remove(`/dev/${d.name}`);
}

/** `0 0 192` or `- - -` (channel, target, LUN; `-` = all). */
export function parseScan(data: string): { channel?: number; target?: number; lun?: number } | undefined {
  const parts = data.trim().split(/\s+/);
  if (parts.length !== 3) return undefined;
  const out: Array<number | undefined> = [];
  for (const p of parts) {
    if (p === '-') out.push(undefined);
    else if (/^\d+$/.test(p)) out.push(Number(p));
    else return undefined;
  }
  return { channel: out[0], target: out[1], lun: out[2] };
}
