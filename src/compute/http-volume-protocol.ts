/**
 * The storage side of attach and detach over a block storage REST endpoint — a real Cinder, or
 * Hitch's own block storage service in another process — through `BlockStorageClient`.
 *
 * The flow is chosen as Nova chooses it: the attachments API when the endpoint speaks 3.44 or
 * later, the legacy actions otherwise (or when configured so). Calls are spans named after the
 * REST call, like the in-process protocol's, so traces read the same either way.
 */
import { HitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';
import type { ConnectorProperties as BackendConnector } from '../volume/backend.ts';
import type { BlockStorageClient } from '../volume/client.ts';
import type { AttachmentRef, ConnectionInfo, ConnectorProperties, VolumeAttachProtocol, VolumeSummary } from './ports.ts';

function rest<T>(span: Span, method: string, path: string, fn: () => Promise<T>): Promise<T> {
  return span.run(`block-storage ${method} ${path.replace(/[0-9a-f-]{36}/g, '{id}')}`, { method, url: path }, () => fn());
}

abstract class HttpBase {
  protected readonly client: BlockStorageClient;

  constructor(client: BlockStorageClient) {
    this.client = client;
  }

  getVolume(volumeId: string, span: Span): Promise<VolumeSummary> {
    return rest(span, 'GET', `/volumes/${volumeId}`, async () => {
      const v = await this.client.getVolume(volumeId);
      const tenant = v['os-vol-tenant-attr:tenant_id'];
      return { id: v.id, projectId: typeof tenant === 'string' ? tenant : '', status: v.status, multiattach: v.multiattach, size: v.size };
    });
  }

  beginDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/volumes/${volumeId}/action os-begin_detaching`, () => this.client.beginDetaching(volumeId));
  }

  rollDetaching(volumeId: string, span: Span): Promise<void> {
    return rest(span, 'POST', `/volumes/${volumeId}/action os-roll_detaching`, () => this.client.rollDetaching(volumeId));
  }
}

export class HttpAttachmentsProtocol extends HttpBase implements VolumeAttachProtocol {
  readonly flow = 'attachments' as const;

  reserve(volumeId: string, instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', '/attachments', async () => ({ attachmentId: (await this.client.createAttachment({ volumeId, instanceUuid })).id }));
  }

  attachmentsOf(volumeId: string, instanceUuid: string, span: Span): Promise<Array<string | null>> {
    return rest(span, 'GET', `/attachments/detail?volume_id=${volumeId}`, async () =>
      (await this.client.listAttachments({ volumeId, instanceId: instanceUuid })).map((a) => a.id),
    );
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    const id = ref.attachmentId as string;
    return rest(span, 'PUT', `/attachments/${id}`, async () => {
      const a = await this.client.updateAttachment(id, { ...connector, mountpoint: ref.mountpoint } as BackendConnector);
      const ci = a.connection_info as ConnectionInfo | undefined;
      if (!ci || typeof ci.driver_volume_type !== 'string') {
        throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block-storage', status: 200, method: 'PUT', path: `/attachments/${id}`, detail: 'no connection_info in the answer' });
      }
      return ci;
    });
  }

  complete(ref: AttachmentRef, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    return rest(span, 'POST', `/attachments/${id}/action os-complete`, () => this.client.completeAttachment(id));
  }

  release(ref: AttachmentRef, _connector: ConnectorProperties | null, span: Span): Promise<void> {
    const id = ref.attachmentId as string;
    return rest(span, 'DELETE', `/attachments/${id}`, () => this.client.deleteAttachment(id));
  }

  finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    return this.release(ref, connector, span);
  }
}

export class HttpLegacyProtocol extends HttpBase implements VolumeAttachProtocol {
  readonly flow = 'legacy' as const;
  readonly #hostName: string;

  constructor(client: BlockStorageClient, hostName: string) {
    super(client);
    this.#hostName = hostName;
  }

  reserve(volumeId: string, _instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }> {
    return rest(span, 'POST', `/volumes/${volumeId}/action os-reserve`, async () => {
      await this.client.reserve(volumeId);
      return { attachmentId: null };
    });
  }

  async attachmentsOf(volumeId: string, _instanceUuid: string, span: Span): Promise<Array<string | null>> {
    const v = await this.getVolume(volumeId, span);
    return v.status === 'attaching' || v.status === 'reserved' ? [null] : [];
  }

  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo> {
    return rest(span, 'POST', `/volumes/${ref.volumeId}/action os-initialize_connection`, () =>
      this.client.initializeConnection(ref.volumeId, connector as BackendConnector),
    );
  }

  complete(ref: AttachmentRef, span: Span): Promise<void> {
    return rest(span, 'POST', `/volumes/${ref.volumeId}/action os-attach`, () =>
      this.client.attach(ref.volumeId, { instanceUuid: ref.instanceUuid, mountpoint: ref.mountpoint, mode: 'rw', hostName: this.#hostName }),
    );
  }

  async release(ref: AttachmentRef, connector: ConnectorProperties | null, span: Span): Promise<void> {
    if (connector) {
      await rest(span, 'POST', `/volumes/${ref.volumeId}/action os-terminate_connection`, () =>
        this.client.terminateConnection(ref.volumeId, connector as BackendConnector),
      );
    }
    const v = await this.getVolume(ref.volumeId, span);
    if (v.status === 'in-use' || v.status === 'detaching') {
      await rest(span, 'POST', `/volumes/${ref.volumeId}/action os-detach`, () => this.client.detach(ref.volumeId));
    } else if (v.status === 'attaching' || v.status === 'reserved') {
      await rest(span, 'POST', `/volumes/${ref.volumeId}/action os-unreserve`, () => this.client.unreserve(ref.volumeId));
    }
  }

  async finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void> {
    await rest(span, 'POST', `/volumes/${ref.volumeId}/action os-terminate_connection`, () =>
      this.client.terminateConnection(ref.volumeId, connector as BackendConnector),
    );
    await rest(span, 'POST', `/volumes/${ref.volumeId}/action os-detach`, () => this.client.detach(ref.volumeId));
  }
}

/**
 * Negotiate with the endpoint and pick the flow: the attachments API from 3.44 unless `prefer`
 * is `legacy`; the legacy actions for older endpoints whatever is preferred.
 */
export async function httpVolumeProtocol(client: BlockStorageClient, prefer: 'attachments' | 'legacy', hostName: string): Promise<VolumeAttachProtocol> {
  await client.negotiate();
  return prefer === 'attachments' && client.supportsAttachments ? new HttpAttachmentsProtocol(client) : new HttpLegacyProtocol(client, hostName);
}
