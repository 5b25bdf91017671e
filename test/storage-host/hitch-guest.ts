/**
 * Inside the storage host guest: Hitch's brick on the real kernel through the real Host port
 * (`LinuxHost`, kernel attach mode), with what a case needs around it — the connection_info of
 * a tgt target on the guest's two loopback portals, a command count, brick's log, and the host's
 * state after each step.
 */
import { randomUUID } from 'node:crypto';
import { Brick, parseConnectionInfo } from '../../src/brick/index.ts';
import type { BlockDeviceInfo, DeviceInfo } from '../../src/ports/attach.ts';
import { LinuxHost } from '../../src/host/linux-host.ts';
import { Trace } from '../../src/trace/span.ts';
import { PORTALS, type LoginTimeouts } from '../../src/test-support/storage-host/guest/storage.ts';

export interface HitchOnGuest {
  readonly brick: Brick;
  readonly host: LinuxHost;
  readonly trace: Trace;
  /** Every command brick ran, as `cmd args → code (ms)`. */
  readonly commands: string[];
  /** Brick's log lines. */
  readonly logs: string[];
}

export function hitchOnGuest(opts: { multipath: boolean; enforceMultipath?: boolean; log?: (l: string) => void; multipathMs?: number; nvmeDeviceMs?: number }): HitchOnGuest {
  const host = new LinuxHost({ name: 'hitch-storage-host' });
  const commands: string[] = [];
  const logs: string[] = [];
  host.onExec((r) => {
    // Failures, and multipathd's answers (`ok` can mean that nothing was built), with their output.
    const out = r.code === 0 && r.cmd !== 'multipathd' ? '' : ` [${(r.stdout.trim() + ' ' + r.stderr.trim()).trim().slice(0, 200)}]`;
    commands.push(`${r.cmd} ${r.args.join(' ')} → ${r.code} (${r.endMs - r.startMs} ms)${out}`);
  });
  const brick = new Brick({
    host,
    ip: '127.0.0.1',
    multipath: opts.multipath,
    ...(opts.enforceMultipath !== undefined ? { enforceMultipath: opts.enforceMultipath } : {}),
    connectorPropertiesTtlMs: 0,
    // Software emulation on a shared 2-core machine runs udev's rules 20–50× slower than a real
    // host: the disk's link gets 60 s rather than 15, and multipathd's map 30 s rather than 5
    // once asked (bounds only; nothing waits them out when the host answers, and an answer that
    // rules a map out — daemon down, blacklisted — ends the wait at once). With 5 s, a loaded
    // machine (connects of 20–60 s) once got the disk back while multipathd was still building
    // the map over it.
    // The return waits for the paths of the portals that answered the TCP probe: 60 s rather
    // than 10 here (multipathd added a late path 5–20 s after its `ok` on the loaded guest).
    timeouts: { deviceMs: 60_000, multipathMs: opts.multipathMs ?? 30_000, livePathsMs: 60_000 },
    nvmeTimeouts: { nvmeConnectMs: 60_000, nvmeDeviceMs: opts.nvmeDeviceMs ?? 60_000 },
    logger: (l) => {
      const line = `${l.level} ${l.message}`;
      logs.push(line);
      opts.log?.(`brick: ${line}`);
    },
  });
  return { brick, host, trace: new Trace(host.clock), commands, logs };
}

export interface VolumeSpec {
  readonly iqn: string;
  readonly lun?: number;
  /** Portals to list (default both). */
  readonly portals?: readonly string[];
  readonly chap?: { readonly username: string; readonly password: string };
}

/** The connection_info Cinder's tgt driver would return for this target, on the given portals. */
export function connectionInfo(v: VolumeSpec): { driver_volume_type: 'iscsi'; data: Record<string, unknown> } {
  const portals = v.portals ?? PORTALS;
  const lun = v.lun ?? 1;
  return {
    driver_volume_type: 'iscsi',
    data: {
      target_discovered: false,
      target_portal: portals[0],
      target_iqn: v.iqn,
      target_lun: lun,
      target_portals: [...portals],
      target_iqns: portals.map(() => v.iqn),
      target_luns: portals.map(() => lun),
      volume_id: randomUUID(),
      access_mode: 'rw',
      ...(v.chap ? { auth_method: 'CHAP', auth_username: v.chap.username, auth_password: v.chap.password } : {}),
    },
  };
}

export function iqnFor(name: string): string {
  return `iqn.2010-10.org.openstack:volume-${name}`;
}

export function isBlock(d: DeviceInfo): d is BlockDeviceInfo {
  return d.type === 'block';
}

/**
 * Connect through brick's port, as the compute service does (the connection_info checked where
 * it enters); the device the kernel made (`/dev/dm-N` or `/dev/sdX`), not the udev link the
 * hypervisor would get.
 */
export async function connectDevice(h: HitchOnGuest, ci: unknown): Promise<DeviceInfo> {
  return (await h.brick.connect(parseConnectionInfo(ci), h.trace.root(), { instance: 'storage-host-guest' })).deviceInfo;
}

export async function disconnectDevice(h: HitchOnGuest, ci: unknown): Promise<void> {
  await h.brick.disconnect(parseConnectionInfo(ci), null, h.trace.root(), { force: false });
}

/** The iscsid window in which a login the caller gave up on may still produce a session, in ms. */
export function loginWindowMs(login: LoginTimeouts): number {
  return login.loginTimeoutS * login.retryMax * 1000;
}
