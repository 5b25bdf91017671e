/**
 * The backend's calls are spans under the span in scope (the compute service's in-process
 * block storage call), with what was exported and never the CHAP secret; outside a scope they
 * leave no trace; a failure ends its span as an error; other members pass through.
 */
import { describe, expect, it } from 'vitest';
import { HitchError } from '../errors.ts';
import type { ConnectorProperties } from '../ports/attach.ts';
import type { VolumeBackend } from '../ports/volume-backend.ts';
import { VirtualClock } from '../sim/clock.ts';
import { withSpanScope } from '../trace/scope.ts';
import { Trace } from '../trace/span.ts';
import { iscsiConnectionInfo } from './backends/iscsi-export.ts';
import { tracedBackend } from './traced-backend.ts';

const CONNECTOR = { initiator: 'iqn.1993-08.org.debian:01:abc', multipath: true, host: 'compute-1' } as unknown as ConnectorProperties;
const VOL = { id: 'cf158d73-c1d2-4a58-b8b6-35f0da74a4be', size: 1, providerLocation: null };

class SlowArray implements VolumeBackend {
  readonly name = 'slow';
  readonly host = 'hitch@slow#pool';
  readonly backendName = 'slow';
  readonly vendorName = 'Hitch tests';
  readonly #clock: VirtualClock;
  exports = 0;
  constructor(clock: VirtualClock) {
    this.#clock = clock;
  }
  async createVolume(): Promise<{ providerLocation: string | null }> {
    return { providerLocation: null };
  }
  async deleteVolume(): Promise<void> {}
  async initializeConnection() {
    this.exports++;
    await this.#clock.sleep(7000);
    if (this.exports > 1) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Target', id: 'iqn.x' });
    return iscsiConnectionInfo({ volumeId: VOL.id, iqn: 'iqn.2010-10.org.openstack:volume-x', lun: 1, portals: ['192.168.1.59:3260', '192.168.1.60:3260'], chapUser: 'u1', chapPassword: 'Chap-Secret-99' }, CONNECTOR);
  }
  async terminateConnection(): Promise<void> {}
  async extendVolume(): Promise<void> {}
  async createSnapshot(): Promise<{ providerLocation: string | null }> {
    return { providerLocation: null };
  }
  async deleteSnapshot(): Promise<void> {}
  async createVolumeFromSnapshot(): Promise<{ providerLocation: string | null }> {
    return { providerLocation: null };
  }
  async createClonedVolume(): Promise<{ providerLocation: string | null }> {
    return { providerLocation: null };
  }
  async capacity(): Promise<{ totalGiB: number | null; freeGiB: number | null }> {
    return { totalGiB: null, freeGiB: null };
  }
  /** A member the port does not name. */
  status(): string {
    return `${this.name}: ${this.exports} exports`;
  }
}

describe('tracedBackend', () => {
  it('records the export under the span in scope, with where it leads and no secret', async () => {
    const clock = new VirtualClock();
    const array = new SlowArray(clock);
    const b = tracedBackend(array);
    const trace = new Trace(clock);
    await trace.root().run('block-storage PUT /v3/attachments/{id}', {}, (s) => withSpanScope(s, () => b.initializeConnection(VOL, CONNECTOR)));
    const [outer, inner] = trace.spans;
    expect(inner).toMatchObject({ parentId: outer?.id, name: 'backend slow export', outcome: 'ok', attrs: { backend: 'slow', backend_host: 'hitch@slow#pool', volume_id: VOL.id, driver_volume_type: 'iscsi', target_iqn: 'iqn.2010-10.org.openstack:volume-x', target_lun: 1, portals: 2 } });
    expect((inner?.endMs ?? 0) - (inner?.startMs ?? 0)).toBe(7000);
    expect(JSON.stringify(trace.spans)).not.toContain('Chap-Secret-99');

    // A failed export ends its span as an error with the code.
    await expect(trace.root().run('again', {}, (s) => withSpanScope(s, () => b.initializeConnection(VOL, CONNECTOR)))).rejects.toThrow(HitchError);
    expect(trace.spans.at(-1)).toMatchObject({ name: 'backend slow export', outcome: 'error', error: { code: 'HITCH_NOT_FOUND' } });
  });

  it('records nothing outside a scope, and passes other members through', async () => {
    const clock = new VirtualClock();
    const array = new SlowArray(clock);
    const b = tracedBackend(array);
    const trace = new Trace(clock);
    // A span that set no scope (an API request's own work): the export is not recorded under it.
    await trace.root().run('outer', {}, () => b.initializeConnection(VOL, CONNECTOR));
    expect(trace.spans.map((s) => s.name)).toEqual(['outer']);
    expect(b.name).toBe('slow');
    expect((b as SlowArray).status()).toBe('slow: 1 exports');
  });
});
