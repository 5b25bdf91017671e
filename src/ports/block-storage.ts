/**
 * The block storage side of an attach as the compute service sees it: one implementation per
 * Cinder flow (`compute/storage-protocols.ts`), over Hitch's own block storage service in
 * process or any Cinder-compatible endpoint over REST. The attach and detach flows see only
 * this, `HostVolumeConnector` and `HypervisorDriver`.
 */
import type { ConnectionInfo, ConnectorProperties } from './attach.ts';
import type { Span } from './span.ts';

export interface VolumeSummary {
  readonly id: string;
  /** The owning project: the compute API checks it against the server's. */
  readonly projectId: string;
  readonly status: string;
  readonly multiattach: boolean;
  readonly size: number;
}

/** Everything the storage side needs to know about one attachment of one volume. */
export interface AttachmentRef {
  readonly volumeId: string;
  readonly instanceUuid: string;
  /** The Cinder attachment (attachments flow); null in the legacy flow. */
  readonly attachmentId: string | null;
  readonly mountpoint: string;
}

/**
 * The storage side of attach and detach (seed steps 1, 3, 5, 8 and their undo), one
 * implementation per Cinder flow: the attachments API (3.44+) or the legacy actions.
 */
export interface VolumeAttachProtocol {
  readonly flow: 'attachments' | 'legacy';
  getVolume(volumeId: string, span: Span): Promise<VolumeSummary>;
  /** Reserve the volume for the instance (volume → `reserved`). */
  reserve(volumeId: string, instanceUuid: string, span: Span): Promise<{ attachmentId: string | null }>;
  /** Export the volume to this host and return how to reach it (volume → `attaching`). */
  initialize(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<ConnectionInfo>;
  /** Mark the attachment complete (volume → `in-use`). */
  complete(ref: AttachmentRef, span: Span): Promise<void>;
  /**
   * Undo `reserve`, and `initialize` when `connector` is given: the export goes and the volume
   * returns to `available` (attachment delete, or terminate + unreserve).
   */
  release(ref: AttachmentRef, connector: ConnectorProperties | null, span: Span): Promise<void>;
  /**
   * Reservations this instance holds on the volume (for recovery): attachment ids, or `[null]`
   * in the legacy flow when the volume is reserved and not yet attached (legacy reservations
   * name no instance).
   */
  attachmentsOf(volumeId: string, instanceUuid: string, span: Span): Promise<Array<string | null>>;
  /** Detach: volume → `detaching`; `rollDetaching` puts it back to `in-use`. */
  beginDetaching(volumeId: string, span: Span): Promise<void>;
  rollDetaching(volumeId: string, span: Span): Promise<void>;
  /** Compute could not make the host and guest see an extend: volume → `error_extending`. */
  extendFailed(volumeId: string, span: Span): Promise<void>;
  /** The end of a detach: export removed, attachment gone, volume `available` (or still in-use by others). */
  finishDetach(ref: AttachmentRef, connector: ConnectorProperties, span: Span): Promise<void>;
}
