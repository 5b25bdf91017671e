/**
 * The storage side of attach and detach over Hitch's own block storage service, in process.
 *
 * In the all-in-one server the compute and block storage services share a process and a clock:
 * calling the service directly (rather than over loopback HTTP) keeps the simulated data
 * plane's virtual clock honest — no real socket I/O is in flight while the simulation decides
 * whether everything is idle. Against a remote block storage endpoint (a real Cinder, or
 * Hitch's own in scale-out) `http-volume-protocol.ts` does the same over the REST API.
 *
 * Each call is a span named like the REST call it stands for, so traces read the same either
 * way. The compute service acts with its own admin identity, not the caller's token: the API
 * has already checked that the volume belongs to the server's project.
 */
import type { Span } from '../trace/span.ts';
import type { ConnectorProperties as BackendConnector } from '../volume/backend.ts';
import type { Caller, VolumeService } from '../volume/volume-service.ts';
import type { AttachmentRef, ConnectionInfo, ConnectorProperties, VolumeAttachProtocol, VolumeSummary } from './ports.ts';

export const COMPUTE_CALLER: Caller = Object.freeze({ userId: 'hitch-compute', projectId: 'service', isAdmin: true });

function rest<T>(span: Span, method: string, path: string, fn: () => Promise<T>): Promise<T> {
  return span.run(`block-storage ${method} ${path.replace(/[0-9a-f-]{36}/g, '{id}')}`, { method, url: path }, () => fn());
}

abstract class InProcessBase {
  protected readonly svc: VolumeService;
  protected readonly caller: Caller;

  constructor(svc: VolumeService, caller: Caller = COMPUTE_CALLER) {
    this.svc = svc;
    this.caller = caller;
  }

  getVolume(volumeId: string, span: Span): Promise<VolumeSummary> {
    return rest(span, 'GET', `/v3/volumes/${volumeId}`, async () => {
      const v = await this.svc.get(this.caller, volumeId);
      return { id: v.id, projectId: v.project_id, status: v.status, multiattach: Boolean(v.multiattach), size: v.size };
    });
  }

  beginDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-begin_detaching`, () => this.svc.beginDetaching(this.caller, volumeId));
  }

  rollDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-roll_detaching`, () => this.svc.rollDetaching(this.caller, volumeId));
  }
}

/** The attachments API (Cinder 3.44+), Nova's default flow. */
export class InProcessAttachmentsProtocol extends InProcessBase implements VolumeAttachProtocol {
  readonly flow = 'attachments' as const;

  reserve(volumeId: string, instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', '/v3/attachments', async () => {
      const a = await this.svc.createAttachment(this.caller, { volumeId, instanceUuid, connector: null, mode: null });
      return { attachmentId: a.id };
    });
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    const id = ref.attachmentId as string;
    return rest(span, 'PUT', `/v3/attachments/${id}`, async () => {
      const a = await this.svc.updateAttachment(this.caller, id, { ...connector, mountpoint: ref.mountpoint } as BackendConnector);
      return JSON.parse(a.connection_info ?? 'null') as ConnectionInfo;
    });
  }

  attachmentsOf(volumeId: string, instanceUuid: string, span: Span): Promise<Array<string | null>> {
    return rest(span, 'GET', `/v3/attachments?volume_id=${volumeId}&instance_id=${instanceUuid}`, async () =>
      (await this.svc.listAttachments(this.caller, { allTenants: true, volumeId, instanceId: instanceUuid })).map((a) => a.id),
    );
  }

  complete(ref: AttachmentRef, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    return rest(span, 'POST', `/v3/attachments/${id}/action os-complete`, () => this.svc.completeAttachment(this.caller, id));
  }

  release(ref: AttachmentRef, _connector: ConnectorProperties | null, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    // Deleting the attachment removes its export (the service kept the connector) and settles the volume.
    return rest(span, 'DELETE', `/v3/attachments/${id}`, async () => {
      await this.svc.deleteAttachment(this.caller, id);
    });
  }

  finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    return this.release(ref, connector, span);
  }
}

/** The legacy actions (before 3.44), as Nova's old flow and the seed use them. */
export class InProcessLegacyProtocol extends InProcessBase implements VolumeAttachProtocol {
  readonly flow = 'legacy' as const;
  readonly #hostName: string;

  constructor(svc: VolumeService, hostName: string, caller: Caller = COMPUTE_CALLER) {
    super(svc, caller);
    this.#hostName = hostName;
  }

  reserve(volumeId: string, _instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-reserve`, async () => {
      await this.svc.reserve(this.caller, volumeId);
      return { attachmentId: null };
    });
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    return rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-initialize_connection`, () =>
      this.svc.initializeConnection(this.caller, ref.volumeId, connector as BackendConnector),
    );
  }

  async attachmentsOf(volumeId: string, _instanceUuid: string, span: Span): Promise<Array<string | null>> {
    const v = await this.getVolume(volumeId, span);
    return v.status === 'attaching' || v.status === 'reserved' ? [null] : [];
  }

  complete(ref: AttachmentRef, span: Span): Promise<void> {
    // Some backends do nothing on os-attach (the seed's DellEMC driver, step 8.2): the service
    // records the attachment either way.
    return rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-attach`, () =>
      this.svc.attach(this.caller, ref.volumeId, { instanceUuid: ref.instanceUuid, hostName: this.#hostName, mountpoint: ref.mountpoint, mode: 'rw' }),
    );
  }

  async release(ref: AttachmentRef, connector: ConnectorProperties | null, span: Span): Promise<void> {
    if (connector) {
      await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-terminate_connection`, () =>
        this.svc.terminateConnection(this.caller, ref.volumeId, connector as BackendConnector),
      );
    }
    // After os-attach the volume is in-use with an attachment record: detach it; before, unreserve.
    const v = await this.svc.get(this.caller, ref.volumeId);
    if (v.status === 'in-use' || v.status === 'detaching') {
      await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-detach`, () => this.svc.detach(this.caller, ref.volumeId, null));
    } else {
      await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-unreserve`, () => this.svc.unreserve(this.caller, ref.volumeId));
    }
  }

  async finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-terminate_connection`, () =>
      this.svc.terminateConnection(this.caller, ref.volumeId, connector as BackendConnector),
    );
    await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-detach`, () => this.svc.detach(this.caller, ref.volumeId, null));
  }
}
