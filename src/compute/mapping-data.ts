/**
 * What a block-device mapping row keeps of its attach, read back typed: the connection block
 * storage answered with (written before the host connect) and the device the connect made
 * (written before the plug). The rows hold JSON; this is where it becomes the attach
 * vocabulary again, through brick's checks.
 */
import { parseConnectionInfo, parseDeviceInfo, readConnectionInfo } from '../brick/index.ts';
import type { ConnectionInfo, DeviceInfo } from '../ports/attach.ts';
import type { BdmRow } from './repository.ts';

/** The mapping's connection, or null before block storage answered. */
export function connectionOf(bdm: BdmRow): ConnectionInfo | null {
  return bdm.connection_info === null ? null : parseConnectionInfo(JSON.parse(bdm.connection_info));
}

/** The device the connect made, or null when it never returned. */
export function deviceOf(bdm: BdmRow): DeviceInfo | null {
  return bdm.device_info === null ? null : parseDeviceInfo(JSON.parse(bdm.device_info));
}

/** The connections of `bdms` that read (the reaper's `keep` and `adopt`: one that does not was never connected). */
export function connectionsOf(bdms: readonly BdmRow[]): ConnectionInfo[] {
  return bdms.flatMap((b) => {
    const ci = b.connection_info === null ? null : readConnectionInfo(JSON.parse(b.connection_info));
    return ci ? [ci] : [];
  });
}
