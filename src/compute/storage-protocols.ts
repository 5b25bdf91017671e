/**
 * The storage side of attach and detach, once, for both Cinder flows — over any transport.
 *
 * `StorageCalls` is what a Cinder-compatible service offers, one method per API call: Hitch's own
 * block storage service in process (`volume-protocol.ts`) or any endpoint over REST
 * (`http-volume-protocol.ts`). The two flows below turn those calls into the steps the attach
 * and detach flows need — the attachments API (Cinder 3.44+, Nova's default) and the legacy
 * actions (older endpoints, and the seed) — so a rule such as "after os-attach the volume is
 * detached, before it is unreserved" lives in one place.
 *
 * Each call is a span named after its REST call (`block-storage PUT /v3/attachments/{id}`), so
 * traces read the same whatever the transport.
 */
import { withSpanScope } from '../trace/scope.ts';
import type { Span } from '../trace/span.ts';
import type { AttachmentRef, VolumeAttachProtocol, VolumeSummary } from '../ports/block-storage.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';

export interface StorageCalls {
  getVolume(volumeId: string): Promise<VolumeSummary>;
  // The attachments API.
  createAttachment(volumeId: string, instanceUuid: string): Promise<string>;
  /** Attachment ids of this instance on the volume. */
  listAttachments(volumeId: string, instanceUuid: string): Promise<string[]>;
  updateAttachment(attachmentId: string, connector: ConnectorProperties): Promise<ConnectionInfo>;
  completeAttachment(attachmentId: string): Promise<void>;
  deleteAttachment(attachmentId: string): Promise<void>;
  // The legacy actions.
  reserve(volumeId: string): Promise<void>;
  unreserve(volumeId: string): Promise<void>;
  initializeConnection(volumeId: string, connector: ConnectorProperties): Promise<ConnectionInfo>;
  terminateConnection(volumeId: string, connector: ConnectorProperties): Promise<void>;
  attach(volumeId: string, a: { instanceUuid: string; mountpoint: string; hostName: string }): Promise<void>;
  detach(volumeId: string): Promise<void>;
  beginDetaching(volumeId: string): Promise<void>;
  rollDetaching(volumeId: string): Promise<void>;
  /** os-reset_status to `error_extending` (compute's service user is an admin). */
  resetStatus(volumeId: string, status: string): Promise<void>;
}

/** One REST call of block storage as a span; an in-process service records its backend's work under it (trace/scope.ts). */
function rest<T>(span: Span, method: string, path: string, fn: () => Promise<T>): Promise<T> {
  return span.run(`block-storage ${method} ${path.replace(/[0-9a-f-]{36}/g, '{id}')}`, { method, url: path }, (s) => withSpanScope(s, fn));
}

abstract class FlowBase {
  protected readonly calls: StorageCalls;

  constructor(calls: StorageCalls) {
    this.calls = calls;
  }

  getVolume(volumeId: string, span: Span): Promise<VolumeSummary> {
    return rest(span, 'GET', `/v3/volumes/${volumeId}`, () => this.calls.getVolume(volumeId));
  }

  beginDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-begin_detaching`, () => this.calls.beginDetaching(volumeId));
  }

  rollDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-roll_detaching`, () => this.calls.rollDetaching(volumeId));
  }

  extendFailed(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-reset_status`, () => this.calls.resetStatus(volumeId, 'error_extending'));
  }
}

/** The attachments API (Cinder 3.44+), Nova's default flow. */
export class AttachmentsFlow extends FlowBase implements VolumeAttachProtocol {
  readonly flow = 'attachments' as const;

  reserve(volumeId: string, instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', '/v3/attachments', async () => ({ attachmentId: await this.calls.createAttachment(volumeId, instanceUuid) }));
  }

  attachmentsOf(volumeId: string, instanceUuid: string, span: Span): Promise<Array<string | null>> {
    return rest(span, 'GET', `/v3/attachments?volume_id=${volumeId}&instance_id=${instanceUuid}`, () => this.calls.listAttachments(volumeId, instanceUuid));
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    const id = ref.attachmentId as string;
    return rest(span, 'PUT', `/v3/attachments/${id}`, () => this.calls.updateAttachment(id, { ...connector, mountpoint: ref.mountpoint }));
  }

  complete(ref: AttachmentRef, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    return rest(span, 'POST', `/v3/attachments/${id}/action os-complete`, () => this.calls.completeAttachment(id));
  }

  /** Deleting the attachment removes its export (the service kept the connector) and settles the volume. */
  release(ref: AttachmentRef, _connector: ConnectorProperties | null, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    return rest(span, 'DELETE', `/v3/attachments/${id}`, () => this.calls.deleteAttachment(id));
  }

  finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    return this.release(ref, connector, span);
  }
}

/** The legacy actions (before 3.44), as Nova's old flow and the seed use them. */
export class LegacyFlow extends FlowBase implements VolumeAttachProtocol {
  readonly flow = 'legacy' as const;
  readonly #hostName: string;

  constructor(calls: StorageCalls, hostName: string) {
    super(calls);
    this.#hostName = hostName;
  }

  reserve(volumeId: string, _instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-reserve`, async () => {
      await this.calls.reserve(volumeId);
      return { attachmentId: null };
    });
  }

  /** A legacy reservation names no instance: `[null]` while the volume is reserved and not yet attached. */
  async attachmentsOf(volumeId: string, _instanceUuid: string, span: Span): Promise<Array<string | null>> {
    const v = await this.getVolume(volumeId, span);
    return v.status === 'attaching' || v.status === 'reserved' ? [null] : [];
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    return rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-initialize_connection`, () => this.calls.initializeConnection(ref.volumeId, connector));
  }

  /** Some backends do nothing on os-attach (the seed's DellEMC driver, step 8.2); the service records the attachment either way. */
  complete(ref: AttachmentRef, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-attach`, () =>
      this.calls.attach(ref.volumeId, { instanceUuid: ref.instanceUuid, mountpoint: ref.mountpoint, hostName: this.#hostName }),
    );
  }

  async release(ref: AttachmentRef, connector: ConnectorProperties | null, span: Span): Promise<void> {
    if (connector) await this.#terminate(ref.volumeId, connector, span);
    // After os-attach the volume is in-use with an attachment record: detach it; before, unreserve.
    const v = await this.getVolume(ref.volumeId, span);
    if (v.status === 'in-use' || v.status === 'detaching') {
      await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-detach`, () => this.calls.detach(ref.volumeId));
    } else if (v.status === 'attaching' || v.status === 'reserved') {
      await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-unreserve`, () => this.calls.unreserve(ref.volumeId));
    }
  }

  async finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    await this.#terminate(ref.volumeId, connector, span);
    await rest(span, 'POST', `/v3/volumes/${ref.volumeId}/action os-detach`, () => this.calls.detach(ref.volumeId));
  }

  #terminate(volumeId: string, connector: ConnectorProperties, span: Span): Promise<void> {
    return rest(span, 'POST', `/v3/volumes/${volumeId}/action os-terminate_connection`, () => this.calls.terminateConnection(volumeId, connector));
  }
}
