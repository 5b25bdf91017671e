/**
 * The `sim` backend on an array that serves NVMe/TCP (`"protocol": "nvmeof"`): a subsystem per
 * volume with the volume as namespace 1, the connector's host NQN admitted on initialize, os-brick's
 * `nvmeof` connection info — and a volume in use survives a restart of Hitch (the in-process array
 * starts empty: the subsystem and namespace come back from provider_location, same UUID).
 */
import { describe, expect, it } from 'vitest';
import { parseConnectionInfo } from '../brick/index.ts';
import { isHitchError } from '../errors.ts';
import { SimBackend } from './sim-backend.ts';
import { Simulation } from './simulation.ts';

const ID = '0323170d-9951-4728-b562-61af22ac0eb3';
const NQN = `nqn.2014-08.org.openstack:volume-${ID}`;
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427';

describe('sim backend, NVMe/TCP array', () => {
  it('exports a subsystem per volume in os-brick\'s nvmeof shape, to the connector\'s host NQN only', async () => {
    const sim = Simulation.create('nvme-dead-portal');
    const b = new SimBackend({ sim });
    const { providerLocation } = await b.createVolume({ id: ID, size: 1 });
    const vol = { id: ID, size: 1, providerLocation };
    const ci = await b.initializeConnection(vol, { nqn: HOSTNQN, multipath: true, initiator: 'iqn.1993-08.org.debian:01:compute1' });
    expect(ci).toEqual({
      driver_volume_type: 'nvmeof',
      data: { target_nqn: NQN, vol_uuid: ID, portals: [['192.168.1.59', '4420', 'tcp'], ['192.168.1.60', '4420', 'tcp']], host_nqn: HOSTNQN, volume_id: ID, access_mode: 'rw', discard: true, qos_specs: null },
    });
    expect(parseConnectionInfo(JSON.parse(JSON.stringify(ci)))).toEqual(ci);
    const s = sim.array('nvmet1').nvme.get(NQN);
    expect([...(s?.hosts ?? [])]).toEqual([HOSTNQN]);
    expect(s?.namespaces.get(1)).toMatchObject({ uuid: ID, sizeBytes: 1024 ** 3 });
    const single = await b.initializeConnection(vol, { nqn: HOSTNQN, multipath: false });
    expect(single.driver_volume_type === 'nvmeof' && single.data.portals).toEqual([['192.168.1.59', '4420', 'tcp']]);
    const err: unknown = await b.initializeConnection(vol, { initiator: 'iqn.1993-08.org.debian:01:compute1', multipath: true }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_INVALID_INPUT')).toBe(true);
    await b.terminateConnection(vol, { nqn: HOSTNQN, multipath: true });
    expect([...(s?.hosts ?? [])]).toEqual([]);
    await b.deleteVolume(vol);
    expect(sim.array('nvmet1').nvme.get(NQN)).toBeUndefined();
  });

  it('a volume in use survives a restart: the new process\'s array gets its subsystem and namespace back, same UUID, and connects', async () => {
    const first = new SimBackend({ sim: Simulation.create('nvme-healthy') });
    const { providerLocation } = await first.createVolume({ id: ID, size: 1 });
    // Hitch restarts: a new simulation (the in-process array is empty), the volume row as stored.
    const sim = Simulation.create('nvme-healthy');
    expect(sim.array('nvmet1').nvme.get(NQN)).toBeUndefined();
    const b = new SimBackend({ sim });
    const ci = await b.initializeConnection({ id: ID, size: 1, providerLocation }, { nqn: HOSTNQN, multipath: true });
    expect(ci.driver_volume_type === 'nvmeof' && ci.data.vol_uuid).toBe(ID);
    expect(sim.array('nvmet1').nvme.get(NQN)?.namespaces.get(1)).toMatchObject({ uuid: ID, sizeBytes: 1024 ** 3 });
    expect(sim.findSubsystem(NQN, '192.168.1.60:4420')?.subsystem.hosts.has(HOSTNQN)).toBe(true);
  });
});
