/**
 * The storage calls over a block storage REST endpoint — a real Cinder, or Hitch's own block
 * storage service in another process — through `BlockStorageClient`.
 *
 * The flow is chosen as Nova chooses it: the attachments API when the endpoint speaks 3.44 or
 * later, the legacy actions otherwise (or when configured so).
 */
import { parseConnectionInfo } from '../brick/index.ts';
import { HitchError } from '../errors.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import type { BlockStorageClient } from '../volume/client.ts';
import { AttachmentsFlow, LegacyFlow, type StorageCalls } from './storage-protocols.ts';

export function httpCalls(client: BlockStorageClient): StorageCalls {
  return {
    getVolume: async (id) => {
      const v = await client.getVolume(id);
      const tenant = v['os-vol-tenant-attr:tenant_id'];
      return { id: v.id, projectId: typeof tenant === 'string' ? tenant : '', status: v.status, multiattach: v.multiattach, size: v.size };
    },
    createAttachment: async (volumeId, instanceUuid) => (await client.createAttachment({ volumeId, instanceUuid })).id,
    listAttachments: async (volumeId, instanceId) => (await client.listAttachments({ volumeId, instanceId })).map((a) => a.id),
    // The endpoint's answer is where connection_info enters compute: checked here, typed after.
    updateAttachment: async (id, connector) => {
      const ci = (await client.updateAttachment(id, connector)).connection_info;
      if (typeof ci !== 'object' || ci === null || !('driver_volume_type' in ci) || typeof ci.driver_volume_type !== 'string') {
        throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 200, method: 'PUT', path: `/attachments/${id}`, detail: 'no connection_info in the answer' });
      }
      return parseConnectionInfo(ci);
    },
    completeAttachment: (id) => client.completeAttachment(id),
    deleteAttachment: (id) => client.deleteAttachment(id),
    reserve: (id) => client.reserve(id),
    unreserve: (id) => client.unreserve(id),
    initializeConnection: async (id, connector) => parseConnectionInfo(await client.initializeConnection(id, connector)),
    terminateConnection: (id, connector) => client.terminateConnection(id, connector),
    attach: (id, a) => client.attach(id, { instanceUuid: a.instanceUuid, mountpoint: a.mountpoint, mode: 'rw', hostName: a.hostName }),
    detach: (id) => client.detach(id),
    beginDetaching: (id) => client.beginDetaching(id),
    rollDetaching: (id) => client.rollDetaching(id),
    resetStatus: (id, status) => client.resetStatus(id, status),
  };
}

/**
 * Negotiate with the endpoint and pick the flow: the attachments API from 3.44 unless `prefer`
 * is `legacy`; the legacy actions for older endpoints whatever is preferred.
 */
export async function httpVolumeProtocol(client: BlockStorageClient, prefer: 'attachments' | 'legacy', hostName: string): Promise<VolumeAttachProtocol> {
  await client.negotiate();
  const calls = httpCalls(client);
  return prefer === 'attachments' && client.supportsAttachments ? new AttachmentsFlow(calls) : new LegacyFlow(calls, hostName);
}
