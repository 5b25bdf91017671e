import { describe, expect, it } from 'vitest';
import { Trace } from '../trace/span.ts';
import { getConnectorProperties } from './connector-properties.ts';
import { fail, ok, ScriptedHost } from '../test-support/scripted-host.ts';
import { createSimHost } from '../sim/sim-host.ts';
import { RecordingHost } from '../host/recording-host.ts';
import { Brick, CONNECTOR_PROPERTIES_TTL_MS } from './index.ts';

const INITIATOR_FILE = [
  '## DO NOT EDIT OR REMOVE THIS FILE!',
  '## If you remove this file, the iSCSI daemon will not start.',
  'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0',
  '',
].join('\n');

const STATUS = 'path checker states:\nup                  3\n\npaths: 2\nbusy: False\n';

function seedHost(opts: { multipathd: boolean; fc?: string }): ScriptedHost {
  return new ScriptedHost(
    (cmd, args) => {
      const line = [cmd, ...args].join(' ');
      if (line === 'multipathd show status') return opts.multipathd ? ok(STATUS) : fail(1);
      if (line === 'systool -c fc_host -v') return opts.fc ? ok(opts.fc) : fail(1, '', 'Error opening class fc_host\n');
      return undefined;
    },
    { name: 'newton', files: { '/etc/iscsi/initiatorname.iscsi': INITIATOR_FILE } },
  );
}

describe('getConnectorProperties', () => {
  it('the seed host: same keys and types as os-brick, commands of seed step 4', async () => {
    const host = seedHost({ multipathd: true });
    const trace = new Trace(host.clock);
    const props = await getConnectorProperties(host, trace.root(), { ip: '172.16.1.11', multipath: true });
    expect(props).toEqual({
      platform: 'x86_64',
      os_type: 'linux',
      ip: '172.16.1.11',
      host: 'newton',
      multipath: true,
      enforce_multipath: false,
      initiator: 'iqn.1993-08.org.debian:01:7cc8838d1c0',
      do_local_attach: false,
    });
    expect(host.commands).toEqual(['multipathd show status', 'systool -c fc_host -v']);
    expect(trace.spans.map((s) => s.name)).toContain('get_connector_properties');
  });

  it('multipathd down: multipath false, unless enforced (HITCH_MULTIPATHD_DOWN)', async () => {
    const host = seedHost({ multipathd: false });
    const span = new Trace(host.clock).root();
    expect((await getConnectorProperties(host, span, { ip: '10.0.0.1', multipath: true })).multipath).toBe(false);
    await expect(getConnectorProperties(host, span, { ip: '10.0.0.1', multipath: true, enforceMultipath: true })).rejects.toMatchObject({
      code: 'HITCH_MULTIPATHD_DOWN',
    });
  });

  it('multipath not requested: multipathd is not asked', async () => {
    const host = seedHost({ multipathd: true });
    const props = await getConnectorProperties(host, new Trace(host.clock).root(), { ip: '10.0.0.1', multipath: false });
    expect(props.multipath).toBe(false);
    expect(host.commands).toEqual(['systool -c fc_host -v']);
  });

  it('FC ports that are Online, and the NVMe host NQN', async () => {
    const fc = [
      'Class = "fc_host"',
      '  Class Device = "host5"',
      '    node_name           = "0x20000024ff7c5a11"',
      '    port_name           = "0x21000024FF7C5A11"',
      '    port_state          = "Online"',
      '  Class Device = "host6"',
      '    node_name           = "0x20000024ff7c5a12"',
      '    port_name           = "0x21000024ff7c5a12"',
      '    port_state          = "Linkdown"',
    ].join('\n');
    const host = seedHost({ multipathd: true, fc });
    host.files.set('/etc/nvme/hostnqn', 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555\n');
    const props = await getConnectorProperties(host, new Trace(host.clock).root(), { ip: '10.0.0.1', multipath: true });
    expect(props.wwpns).toEqual(['21000024ff7c5a11']);
    expect(props.wwnns).toEqual(['20000024ff7c5a11']);
    expect(props.nqn).toBe('nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555');
  });

  it('no initiator file: no initiator key', async () => {
    const host = seedHost({ multipathd: true });
    host.files.delete('/etc/iscsi/initiatorname.iscsi');
    const props = await getConnectorProperties(host, new Trace(host.clock).root(), { ip: '10.0.0.1', multipath: true });
    expect('initiator' in props).toBe(false);
  });
});

describe('Brick.connectorProperties: reused for a minute on the host clock', () => {
  const rig = (ttl?: number) => {
    const sim = createSimHost('healthy-single');
    const host = new RecordingHost(sim);
    const brick = new Brick({ host, ip: '10.0.0.1', multipath: true, ...(ttl !== undefined ? { connectorPropertiesTtlMs: ttl } : {}) });
    return { sim, host, brick, span: () => new Trace(host.clock).root() };
  };
  const rename = (r: ReturnType<typeof rig>, iqn: string) => r.sim.writeFile('/etc/iscsi/initiatorname.iscsi', `InitiatorName=${iqn}\n`);

  it('a second call within the minute runs nothing and answers the same; after it, the host is read again', async () => {
    const r = rig();
    const first = await r.brick.connectorProperties(r.span());
    expect(r.host.commands()).toEqual(['multipathd show status', 'systool -c fc_host -v']);
    await rename(r, 'iqn.2026-11.test:renamed');
    r.host.clear();
    await r.host.clock.sleep(CONNECTOR_PROPERTIES_TTL_MS / 2);
    expect(await r.brick.connectorProperties(r.span())).toEqual(first);
    expect(r.host.commands()).toEqual([]);
    await r.host.clock.sleep(CONNECTOR_PROPERTIES_TTL_MS / 2);
    expect((await r.brick.connectorProperties(r.span())).initiator).toBe('iqn.2026-11.test:renamed');
    expect(r.host.commands()).toEqual(['multipathd show status', 'systool -c fc_host -v']);
  });

  it('a failed connect drops them, so the retry reads the host afresh', async () => {
    const r = rig();
    await r.brick.connectorProperties(r.span());
    await rename(r, 'iqn.2026-11.test:renamed');
    const info = { driver_volume_type: 'iscsi' as const, data: { target_portal: '192.0.2.99:3260', target_iqn: 'iqn.2010-10.org.openstack:nowhere', target_lun: 1 } };
    const err = await r.brick.connect(info, r.span(), { instance: 'i-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((await r.brick.connectorProperties(r.span())).initiator).toBe('iqn.2026-11.test:renamed');
  });

  it('a TTL of 0 reads them every time, as os-brick does', async () => {
    const r = rig(0);
    await r.brick.connectorProperties(r.span());
    await r.brick.connectorProperties(r.span());
    expect(r.host.commands().filter((c) => c === 'systool -c fc_host -v')).toHaveLength(2);
  });
});
