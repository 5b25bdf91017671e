/**
 * The block storage API on the `sim` backend: an attachment exports the volume's LUN on the
 * simulated array to exactly the connector's initiator, with CHAP, on every portal for a
 * multipath connector; deleting the attachment withdraws it; deleting the volume removes
 * the target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulation } from '../../src/sim/simulation.ts';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { SimBackend } from '../../src/sim/sim-backend.ts';
import { headers, token } from './test-helpers.ts';

const INSTANCE = '11111111-2222-3333-4444-555555555555';
const INITIATOR = 'iqn.1993-08.org.debian:01:compute1';

describe('block storage API on the sim backend', () => {
  let t: HitchTestApp;
  let sim: Simulation;
  let H: Record<string, string>;
  let P: string;

  beforeAll(async () => {
    sim = Simulation.create('healthy-multipath');
    t = await buildApp({ dbUrl: 'sqlite::memory:', backend: new SimBackend({ sim }) });
    const a = await token(t);
    H = headers(a.token, '3.44');
    P = `/volume/v3/${a.projectId}`;
  });
  afterAll(async () => t?.close());

  it('exports to the attaching initiator only, and withdraws on delete', async () => {
    const v = (await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: H, payload: { volume: { size: 2, name: 'sim-vol' } } })).json<{ volume: { id: string; status: string } }>().volume;
    expect(v.status).toBe('available');
    const arrayName = (sim.arrays()[0] as { name: string }).name;
    const iqn = `iqn.2010-10.org.openstack:volume-${v.id}`;
    const target = sim.inspectArray(arrayName).find((x) => x.target === iqn);
    expect(target?.luns).toEqual([expect.objectContaining({ lun: 1, sizeBytes: 2 * 1024 ** 3 })]);
    expect(target?.acls).toEqual([]);

    const att = await t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: H, payload: { attachment: { volume_uuid: v.id, instance_uuid: INSTANCE, connector: { initiator: INITIATOR, host: 'compute1', multipath: true } } } });
    expect(att.statusCode).toBe(200);
    const a = att.json<{ attachment: { id: string; connection_info: { data: Record<string, unknown> } } }>().attachment;
    const portals = sim.array(arrayName).target(iqn)?.portals;
    expect(a.connection_info.data).toMatchObject({ target_iqn: iqn, target_lun: 1, target_portals: portals, auth_method: 'CHAP' });
    expect(sim.inspectArray(arrayName).find((x) => x.target === iqn)?.acls).toEqual([{ initiator: INITIATOR, chap: true, luns: [1] }]);
    expect(sim.array(arrayName).visibleLuns(iqn, 'iqn.1993-08.org.debian:01:intruder')).toEqual([]);

    expect((await t.app.inject({ method: 'DELETE', url: `${P}/attachments/${a.id}`, headers: H })).statusCode).toBe(200);
    expect(sim.inspectArray(arrayName).find((x) => x.target === iqn)?.acls).toEqual([]);
    expect((await t.app.inject({ method: 'DELETE', url: `${P}/volumes/${v.id}`, headers: H })).statusCode).toBe(202);
    expect(sim.inspectArray(arrayName).find((x) => x.target === iqn)).toBeUndefined();
  });
});
