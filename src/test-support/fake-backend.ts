/**
 * An in-memory backend that answers like Cinder's LVM/iSCSI driver without any data plane:
 * for API tests and for runs where no simulator is configured. It keeps per-volume CHAP
 * credentials and the set of initiators each volume is exported to, so tests can check that
 * terminate really revokes access.
 */
import { randomBytes } from 'node:crypto';
import { HitchError } from '../errors.ts';
import type { BackendCapacity, BackendSnapshot, BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { iscsiConnectionInfo, volumeIqn } from '../volume/backends/iscsi-export.ts';

export interface FakeBackendOptions {
  /** Portals (`ip:port`); the first is the primary, all are listed for multipath. */
  readonly portals?: readonly string[];
  readonly host?: string;
  /** The pool's size in GiB (default 1000). */
  readonly capacityGiB?: number;
}

interface FakeVolume {
  size: number;
  /** Which volume's data this is a copy of (tests of snapshots and clones): its own id when new. */
  readonly data: string;
  readonly lun: number;
  readonly chapUser: string;
  readonly chapSecret: string;
  readonly exports: Set<string>;
}

export class FakeBackend implements VolumeBackend {
  readonly name = 'fake';
  readonly host: string;
  readonly backendName = 'fake';
  readonly vendorName = 'Hitch';
  readonly #portals: readonly string[];
  readonly #volumes = new Map<string, FakeVolume>();
  readonly #snapshots = new Map<string, { readonly size: number; readonly data: string }>();
  readonly #capacityGiB: number;
  /** Fail the next call of this method (tests of the service's undo paths). */
  failNext: keyof VolumeBackend | null = null;

  constructor(opts: FakeBackendOptions = {}) {
    this.#portals = opts.portals ?? ['127.0.0.1:3260', '127.0.0.2:3260'];
    this.host = opts.host ?? 'hitch@fake#fake';
    this.#capacityGiB = opts.capacityGiB ?? 1000;
  }

  #maybeFail(method: keyof VolumeBackend): void {
    if (this.failNext === method) {
      this.failNext = null;
      throw new Error(`fake backend: ${method} failed (as the test asked)`);
    }
  }

  /** The volume's size and whose data it holds (tests). */
  volume(volumeId: string): { size: number; data: string } | undefined {
    const v = this.#volumes.get(volumeId);
    return v && { size: v.size, data: v.data };
  }

  hasSnapshot(id: string): boolean {
    return this.#snapshots.has(id);
  }

  /** Initiators the volume is exported to (tests). */
  exportsOf(volumeId: string): string[] {
    return [...(this.#volumes.get(volumeId)?.exports ?? [])].sort();
  }

  has(volumeId: string): boolean {
    return this.#volumes.has(volumeId);
  }

  async createVolume(volume: { id: string; size: number }, data = volume.id): Promise<{ providerLocation: string | null }> {
    this.#maybeFail('createVolume');
    const v: FakeVolume = {
      size: volume.size,
      data,
      lun: 1,
      chapUser: randomBytes(10).toString('hex'),
      chapSecret: randomBytes(12).toString('hex'),
      exports: new Set(),
    };
    this.#volumes.set(volume.id, v);
    return { providerLocation: `${this.#portals[0]},1 ${volumeIqn(volume.id)} ${v.lun}` };
  }

  async deleteVolume(volume: BackendVolume): Promise<void> {
    this.#maybeFail('deleteVolume');
    this.#volumes.delete(volume.id);
  }

  async extendVolume(volume: BackendVolume, newSizeGiB: number): Promise<void> {
    this.#maybeFail('extendVolume');
    const v = this.#volumes.get(volume.id);
    if (!v) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend volume', id: volume.id });
    v.size = Math.max(v.size, newSizeGiB);
  }

  async createSnapshot(snapshot: { id: string; size: number }, volume: BackendVolume): Promise<{ providerLocation: string | null }> {
    this.#maybeFail('createSnapshot');
    const v = this.#volumes.get(volume.id);
    if (!v) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend volume', id: volume.id });
    this.#snapshots.set(snapshot.id, { size: snapshot.size, data: v.data });
    return { providerLocation: `snapshot-${snapshot.id}` };
  }

  async deleteSnapshot(snapshot: BackendSnapshot): Promise<void> {
    this.#maybeFail('deleteSnapshot');
    this.#snapshots.delete(snapshot.id);
  }

  async createVolumeFromSnapshot(volume: { id: string; size: number }, snapshot: BackendSnapshot): Promise<{ providerLocation: string | null }> {
    this.#maybeFail('createVolumeFromSnapshot');
    const s = this.#snapshots.get(snapshot.id);
    if (!s) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend snapshot', id: snapshot.id });
    return this.createVolume(volume, s.data);
  }

  async createClonedVolume(volume: { id: string; size: number }, source: BackendVolume): Promise<{ providerLocation: string | null }> {
    this.#maybeFail('createClonedVolume');
    const v = this.#volumes.get(source.id);
    if (!v) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend volume', id: source.id });
    return this.createVolume(volume, v.data);
  }

  async capacity(allocatedGiB: number): Promise<BackendCapacity> {
    return { totalGiB: this.#capacityGiB, freeGiB: Math.max(0, this.#capacityGiB - allocatedGiB) };
  }

  async initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo> {
    this.#maybeFail('initializeConnection');
    const v = this.#volumes.get(volume.id);
    if (!v) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backend volume', id: volume.id });
    if (typeof connector.initiator !== 'string' || connector.initiator === '') {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'Connector does not have an initiator' });
    }
    v.exports.add(connector.initiator);
    const iqn = volumeIqn(volume.id);
    return iscsiConnectionInfo({ volumeId: volume.id, iqn, lun: v.lun, portals: this.#portals, chapUser: v.chapUser, chapPassword: v.chapSecret }, connector);
  }

  async terminateConnection(volume: BackendVolume, connector: ConnectorProperties | null): Promise<void> {
    const v = this.#volumes.get(volume.id);
    if (!v) return;
    if (connector === null || typeof connector.initiator !== 'string') v.exports.clear();
    else v.exports.delete(connector.initiator);
  }
}
