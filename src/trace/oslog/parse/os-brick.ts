/**
 * os-brick's own lines: the `@utils.trace` call/return of its public calls, and what the iSCSI
 * connector and `linuxscsi` say along the way — Newton's serial connector (os-brick 1.x) and
 * the parallel one of today (2.x on, Debian's 6.1 here) word things differently.
 *
 * Trace (every release since 1.x):
 *   ==> connect_volume: call {'self': <os_brick.initiator.connectors.iscsi.ISCSIConnector object at 0x7f…>, 'connection_properties': {'target_portals': ['192.168.1.59:3260', …], …}}
 *   <== connect_volume: return (254525ms) {'path': '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192', 'scsi_wwn': '36006016074e03a008d3cf25b04e2daae', 'type': 'block'}
 *   <== connect_volume: exception (125339ms) VolumeDeviceNotFound('Volume device not found at .')
 * Logins (public open-iscsi list post, 2019):
 *   Trying to connect to iSCSI portal 170.0.0.10:3260
 *   Retrying to connect to iSCSI portal 127.0.0.1:3999            (6.1: `iscsiadm -o new` failed; tenacity tries again)
 *   Failed to login iSCSI target iqn.1992-04.com.emc:cx.ckm00185002995.a0 on portal 170.0.0.10:3260 (exit code 8).
 *   Could not login to any iSCSI portal.
 * Today's connector (os-brick 6.1, `_connect_vol` and `_connect_multipath_volume`):
 *   Connected to 192.168.1.60:3260
 *   Connected to sdb using {'target_portal': '192.168.1.60:3260', …}
 *   Failed to connect to iSCSI portal 192.168.1.59:3260.
 *   LUN 1 on iSCSI portal 192.168.1.59:3260 not found on sysfs after logging in.
 *   All connection threads finished, giving 10 seconds for dm to appear.
 *   No dm was created, connection to volume is probably bad and will perform poorly.
 * oslo.privsep, when os-brick's first privileged call starts the daemon (in the caller's context):
 *   Running privsep helper: ['privsep-helper', '--config-file', '/etc/nova/nova.conf', '--privsep_context', 'os_brick.privileged.default', '--privsep_sock_path', '/tmp/tmppcywdw8x/privsep.sock']
 *   Spawned new privsep daemon via rootwrap
 * Newton's (os-brick 1.6, the seed's):
 *   ISCSI volume not yet found at: [u'/dev/disk/by-path/ip-192.168.1.59:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.a0-lun-192']. Will rescan & retry.  Try number: 0.
 *   Found iSCSI node [u'/dev/disk/by-path/…-lun-192'] (after 1 rescans)
 *   Device WWN = '36006016074e03a008d3cf25b04e2daae'
 *   Checking to see if /dev/disk/by-id/dm-uuid-mpath-36006016074e03a008d3cf25b04e2daae exists yet.
 *   /dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9 has shown up.
 *   couldn't find a valid multipath device path for 36006016074e03a008d3cf25b04e2daae
 *   Unable to find multipath device name for volume. Using path /dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192 for volume.
 */
import type { LogEvent } from '../events.ts';

const CALL = /^==> (\w+): call (.*)$/s;
const RETURN = /^<== (\w+): return \((\d+)ms\) ?(.*)$/s;
const RAISE = /^<== (\w+): exception \((\d+)ms\) ?(.*)$/s;
const TRY = /^Trying to connect to iSCSI portal (\S+?)\.?$/;
const RETRY = /^Retrying to connect to iSCSI portal (\S+)$/;
const CONNECTED_DEV = /^Connected to (\S+) using (.*)$/s;
const CONNECTED = /^Connected to (\S+)$/;
const LOGIN_FAILED = /^Failed to login iSCSI target (\S+) on portal (\S+) \(exit code (-?\d+|None)\)\.$/;
const PORTAL_FAILED = /^Failed to connect to iSCSI portal (\S+?)\.$/;
const NO_LUN = /^LUN (\S+) on iSCSI portal (\S+) not found on sysfs after logging in\.$/;
const NOT_YET = /^ISCSI volume not yet found at: (.*)\. Will rescan & retry\. {1,2}Try number: (\d+)\.?$/s;
const FOUND_NODE = /^Found iSCSI node (.*) \(after (\d+) rescans\)$/s;
const WWN = /^Device WWN = '([^']*)'$/;
const FIND_MPATH = /^Find Multipath device file for volume WWN (\S+)$/;
const NO_MPATH = /^couldn't find a valid multipath device path for (\S+)$/;
const FALLBACK = /^Unable to find multipath device name for volume\. Using path (\S+) for volume\.$/;
const CHECKING = /^Checking to see if (\S+) exists yet\.$/;
const SHOWN_UP = /^(\S+) has shown up\.$/;
const FOUND_MPATH = /^Found multipath device = (\S+)$/;
const SCANNING = /^Scanning host (\d+) c: (\S+), t: (\S+), l: (\S+)\)$/;
const TENACITY = /^(Retrying \S+ in [\d.]+ seconds as it raised .*|Finished call to '\S+' after [\d.]+\(s\), this was the \w+ time calling it\.)$/s;

/** `'key': 'value'` (or `u'value'`) out of a Python repr. */
export function reprValue(text: string, key: string): string | null {
  const m = new RegExp(`'${key}': u?'([^']*)'`).exec(text);
  return m ? (m[1] ?? null) : null;
}

/** `'key': ['a', 'b']` out of a Python repr. */
export function reprList(text: string, key: string): string[] {
  const m = new RegExp(`'${key}': \\[([^\\]]*)\\]`).exec(text);
  if (!m) return [];
  return [...(m[1] ?? '').matchAll(/u?'([^']*)'|(-?\d+)/g)].map((x) => x[1] ?? x[2] ?? '');
}

export function parseOsBrick(message: string): LogEvent[] {
  const c = message.charCodeAt(0);
  let m: RegExpExecArray | null;
  if (c === 61 /* = */) {
    m = CALL.exec(message);
    return m ? [{ kind: 'brick.call', fn: m[1] ?? '', args: m[2] ?? '' }] : [];
  }
  if (c === 60 /* < */) {
    m = RETURN.exec(message);
    if (m) return [{ kind: 'brick.return', fn: m[1] ?? '', ms: Number(m[2]), result: m[3] ?? '' }];
    m = RAISE.exec(message);
    return m ? [{ kind: 'brick.raise', fn: m[1] ?? '', ms: Number(m[2]), exception: m[3] ?? '' }] : [];
  }
  if ((m = TRY.exec(message))) return [{ kind: 'portal.try', portal: m[1] ?? '' }];
  if ((m = RETRY.exec(message))) return [{ kind: 'portal.retry', portal: m[1] ?? '' }];
  if ((m = CONNECTED_DEV.exec(message))) return [{ kind: 'portal.device', device: m[1] ?? '', portal: reprValue(m[2] ?? '', 'target_portal') }];
  if ((m = CONNECTED.exec(message))) return [{ kind: 'portal.logged-in', portal: m[1] ?? '' }];
  if ((m = LOGIN_FAILED.exec(message))) return [{ kind: 'portal.login-failed', iqn: m[1] ?? '', portal: m[2] ?? '', exitCode: m[3] === 'None' ? null : Number(m[3]) }];
  if ((m = PORTAL_FAILED.exec(message))) return [{ kind: 'portal.failed', portal: m[1] ?? '' }];
  if ((m = NO_LUN.exec(message))) return [{ kind: 'portal.no-lun', lun: m[1] ?? '', portal: m[2] ?? '' }];
  if (message === 'Could not login to any iSCSI portal.' || message === 'Failed to login to any of the iSCSI targets.') return [{ kind: 'portal.none' }];
  if (message === 'Multipath discovery for iSCSI enabled') return [{ kind: 'multipath.discovery', enabled: true }];
  if (message === 'Multipath discovery for iSCSI not enabled.') return [{ kind: 'multipath.discovery', enabled: false }];
  if (message === 'All connection threads finished, giving 10 seconds for dm to appear.') return [{ kind: 'multipath.wait', wwn: null }];
  if (message === 'No dm was created, connection to volume is probably bad and will perform poorly.') return [{ kind: 'multipath.none', wwn: null }];
  if ((m = NOT_YET.exec(message))) return [{ kind: 'device.missing', paths: m[1] ?? '', attempt: Number(m[2]) }];
  if ((m = FOUND_NODE.exec(message))) return [{ kind: 'device.found', paths: m[1] ?? '', rescans: Number(m[2]) }];
  if ((m = WWN.exec(message))) return [{ kind: 'device.wwn', wwn: m[1] ?? '' }];
  if ((m = FIND_MPATH.exec(message))) return [{ kind: 'multipath.wait', wwn: m[1] ?? null }];
  if ((m = NO_MPATH.exec(message))) return [{ kind: 'multipath.none', wwn: m[1] ?? null }];
  if ((m = FALLBACK.exec(message))) return [{ kind: 'multipath.fallback', path: m[1] ?? '' }];
  if ((m = CHECKING.exec(message))) return [{ kind: 'path.check', path: m[1] ?? '' }];
  if ((m = SHOWN_UP.exec(message))) return [{ kind: 'path.appeared', path: m[1] ?? '' }];
  if ((m = FOUND_MPATH.exec(message))) return [{ kind: 'multipath.found', path: m[1] ?? '' }];
  if ((m = SCANNING.exec(message))) return [{ kind: 'rescan', what: `host${m[1]} ${m[2]}:${m[3]}:${m[4]}` }];
  if ((m = TENACITY.exec(message))) return [{ kind: 'brick.retry', what: m[1] ?? '' }];
  if (message.startsWith('Running privsep helper: ')) return [{ kind: 'privsep.starting' }];
  if (message === 'Spawned new privsep daemon via rootwrap') return [{ kind: 'privsep.started' }];
  return [];
}
