/**
 * An in-memory backend that answers like Cinder's LVM/iSCSI driver without any data plane:
 * for API tests and for runs where no simulator is configured. It keeps per-volume CHAP
 * credentials and the set of initiators each volume is exported to, so tests can check that
 * terminate really revokes access.
 */
import { randomBytes } from 'node:crypto';
import { HitchError } from '../errors.ts';
import type { BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import { iscsiConnectionInfo, volumeIqn } from '../volume/backends/iscsi-export.ts';

export interface FakeBackendOptions {
  /** Portals (`ip:port`); the first is the primary, all are listed for multipath. */
  readonly portals?: readonly string[];
  readonly host?: string;
}

interface FakeVolume {
  readonly lun: number;
  readonly chapUser: string;
  readonly chapSecret: string;
  readonly exports: Set<string>;
}

export class FakeBackend implements VolumeBackend {
  readonly name = 'fake';
  readonly host: string;
  readonly #portals: readonly string[];
  readonly #volumes = new Map<string, FakeVolume>();

  constructor(opts: FakeBackendOptions = {}) {
    this.#portals = opts.portals ?? ['127.0.0.1:3260', '127.0.0.2:3260'];
    this.host = opts.host ?? 'hitch@fake#fake';
  }

  /** Initiators the volume is exported to (tests). */
  exportsOf(volumeId: string): string[] {
    return [...(this.#volumes.get(volumeId)?.exports ?? [])].sort();
  }

  has(volumeId: string): boolean {
    return this.#volumes.has(volumeId);
  }

  async createVolume(volume: { id: string; size: number }): Promise<{ providerLocation: string | null }> {
    const v: FakeVolume = {
      lun: 1,
      chapUser: randomBytes(10).toString('hex'),
      chapSecret: randomBytes(12).toString('hex'),
      exports: new Set(),
    };
    this.#volumes.set(volume.id, v);
    return { providerLocation: `${this.#portals[0]},1 ${volumeIqn(volume.id)} ${v.lun}` };
  }

  async deleteVolume(volume: BackendVolume): Promise<void> {
    this.#volumes.delete(volume.id);
  }

  async initializeConnection(volume: BackendVolume, connector: ConnectorProperties): Promise<ConnectionInfo> {
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
