import { describe, expect, it } from 'vitest';
import { createSimHost } from '../sim/sim-host.ts';
import { RecordingHost } from '../host/recording-host.ts';
import { leftovers } from '../sim/inspect.ts';
import { Trace } from '../trace/span.ts';
import { Brick, parseConnectionInfo } from './index.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const ci = parseConnectionInfo({
  driver_volume_type: 'iscsi',
  data: { target_portals: ['192.0.2.10:3260', '192.0.2.11:3260'], target_iqns: [IQN, IQN], target_luns: [1, 1], volume_id: '0b8fd5f5-5d68-4b5a-9d3f-6d1a3e7d9a01' },
});

describe('Brick (what Hitch runs)', () => {
  it('makes node records with iscsiadm, not as files: a record file written during another login breaks that login on a real host', async () => {
    const sim = createSimHost('healthy-multipath');
    const host = new RecordingHost(sim);
    const trace = new Trace(host.clock);
    const brick = new Brick({ host, ip: '127.0.0.1', multipath: true });
    const { deviceInfo: dev } = await brick.connect(ci, trace.root(), { instance: 'i-1' });
    await brick.settled();
    expect(dev).toMatchObject({ type: 'block', path: expect.stringMatching(/^\/dev\/dm-\d+$/) });
    expect(host.replaced()).toEqual([]);
    for (const p of ['192.0.2.10:3260', '192.0.2.11:3260']) {
      expect(host.commands()).toContain(`iscsiadm -m node -T ${IQN} -p ${p} --interface default --op new`);
      expect(host.commands()).toContain(`iscsiadm -m node -T ${IQN} -p ${p} --op update -n node.session.scan -v manual`);
      expect(host.commands()).toContain(`iscsiadm -m node -T ${IQN} -p ${p} --op update -n node.startup -v automatic`);
    }
    await brick.disconnect(ci, dev, trace.root(), { force: false });
    expect(leftovers(sim.model)).toEqual([]);
  });

  it('writes them as files when told to (nodeRecordFiles)', async () => {
    const sim = createSimHost('healthy-multipath');
    const host = new RecordingHost(sim);
    const brick = new Brick({ host, ip: '127.0.0.1', multipath: true, nodeRecordFiles: true });
    await brick.connect(ci, new Trace(host.clock).root(), { instance: 'i-1' });
    expect(host.replaced()).toHaveLength(2);
    expect(host.commands().filter((c) => c.includes('--op new'))).toEqual([]);
  });
});
