/**
 * Tests of iSCSI backends read Cinder's iSCSI keys off a `ConnectionInfo`, which is a union over
 * protocols: `iscsiData` narrows it, and fails the test when the backend answered another protocol.
 */
import type { ConnectionInfo, IscsiConnectionData } from '../ports/attach.ts';

export function iscsiData(ci: ConnectionInfo): IscsiConnectionData {
  if (ci.driver_volume_type !== 'iscsi') throw new Error(`expected an iscsi connection, got ${ci.driver_volume_type}`);
  return ci.data;
}
