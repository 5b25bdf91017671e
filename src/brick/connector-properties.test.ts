import { describe, expect, it } from 'vitest';
import { Trace } from '../trace/span.ts';
import { getConnectorProperties } from './connector-properties.ts';
import { fail, ok, ScriptedHost } from './testing/scripted-host.ts';

const INITIATOR_FILE = [
  '## DO NOT EDIT OR REMOVE THIS FILE!',
  '## If you remove this file, the iSCSI daemon will not start.',
  'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0',
  '',
].join('\n');

const STATUS = 'path checker states:\nup                  3\n\npaths: 2\nbusy: False\n';

function seedHost(opts: { multipathd: boolean; fc?: string }): ScriptedHost {
  return new ScriptedHost(
    'newton',
    (cmd, args) => {
      const line = [cmd, ...args].join(' ');
      if (line === 'multipathd show status') return opts.multipathd ? ok(STATUS) : fail(1);
      if (line === 'systool -c fc_host -v') return opts.fc ? ok(opts.fc) : fail(1, '', 'Error opening class fc_host\n');
      return undefined;
    },
    { '/etc/iscsi/initiatorname.iscsi': INITIATOR_FILE },
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
