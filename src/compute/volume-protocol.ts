/**
 * The storage calls over Hitch's own block storage service, in process.
 *
 * In the all-in-one server the compute and block storage services share a process and a clock:
 * calling the service directly (rather than over loopback HTTP) keeps the simulated data
 * plane's virtual clock honest — no real socket I/O is in flight while the simulation decides
 * whether everything is idle. Against a remote block storage endpoint (a real Cinder, or
 * Hitch's own in scale-out) `http-volume-protocol.ts` makes the same calls over the REST API.
 *
 * The compute service acts with its own admin identity, not the caller's token: the API has
 * already checked that the volume belongs to the server's project.
 */
import { parseConnectionInfo } from '../brick/index.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import type { Caller, VolumeService } from '../volume/volume-service.ts';
import { AttachmentsFlow, LegacyFlow, type StorageCalls } from './storage-protocols.ts';

export const COMPUTE_CALLER: Caller = Object.freeze({ userId: 'hitch-compute', projectId: 'service', isAdmin: true });

export function inProcessCalls(svc: VolumeService, caller: Caller = COMPUTE_CALLER): StorageCalls {
  return {
    getVolume: async (id) => {
      const v = await svc.get(caller, id);
      return { id: v.id, projectId: v.project_id, status: v.status, multiattach: Boolean(v.multiattach), size: v.size };
    },
    createAttachment: async (volumeId, instanceUuid) => (await svc.createAttachment(caller, { volumeId, instanceUuid, connector: null, mode: null })).id,
    listAttachments: async (volumeId, instanceId) => (await svc.listAttachments(caller, { allTenants: true, volumeId, instanceId })).map((a) => a.id),
    // The service answers with the attachment row: its connection_info is JSON, read here.
    updateAttachment: async (id, connector) => parseConnectionInfo(JSON.parse((await svc.updateAttachment(caller, id, connector)).connection_info ?? 'null')),
    completeAttachment: (id) => svc.completeAttachment(caller, id),
    deleteAttachment: async (id) => void (await svc.deleteAttachment(caller, id, { remaining: false })),
    reserve: (id) => svc.reserve(caller, id),
    unreserve: (id) => svc.unreserve(caller, id),
    initializeConnection: (id, connector) => svc.initializeConnection(caller, id, connector),
    terminateConnection: (id, connector) => svc.terminateConnection(caller, id, connector),
    attach: (id, a) => svc.attach(caller, id, { instanceUuid: a.instanceUuid, hostName: a.hostName, mountpoint: a.mountpoint, mode: 'rw' }),
    detach: (id) => svc.detach(caller, id, null),
    beginDetaching: (id) => svc.beginDetaching(caller, id),
    rollDetaching: (id) => svc.rollDetaching(caller, id),
    resetStatus: (id, status) => svc.resetStatus(caller, id, { status }),
  };
}

/** The attachments flow over the in-process service. */
export function inProcessAttachments(svc: VolumeService): VolumeAttachProtocol {
  return new AttachmentsFlow(inProcessCalls(svc));
}

/** The legacy flow over the in-process service, for compute host `hostName`. */
export function inProcessLegacy(svc: VolumeService, hostName: string): VolumeAttachProtocol {
  return new LegacyFlow(inProcessCalls(svc), hostName);
}
