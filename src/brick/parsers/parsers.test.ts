import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMultipathdStatus } from './multipathd-status.ts';
import { parseHostNqn, parseInitiatorName } from './initiator-name.ts';
import { parseBlockdevGetro } from './blockdev.ts';
import { parseSystoolFcHosts, systoolSaysNoFc } from './systool-fc.ts';
import { parseScsiId, wwnFromSysfsWwid } from './wwid.ts';
import { parseIscsiLs } from './iscsi-ls.ts';

// The repository's copies of ../shared/fixtures/host (a fresh clone has no ../shared; src/sim/fixtures.test.ts checks the copies are identical).
const FIXTURES = new URL('../../sim/testdata/host', import.meta.url).pathname;

/** The output part of a fixture file: between the `$ cmd` line and the `[rc=…]` trailer. */
function fixture(name: string): { out: string; rc: number } {
  const text = readFileSync(`${FIXTURES}/${name}`, 'utf8');
  const lines = text.split('\n');
  const rcLine = lines.findIndex((l) => /^\[rc=\d+/.test(l));
  const rc = Number(/rc=(\d+)/.exec(lines[rcLine] ?? '')?.[1] ?? 0);
  return { out: lines.slice(1, rcLine < 0 ? undefined : rcLine).join('\n'), rc };
}

describe('multipathd show status', () => {
  it('parses the seed output', () => {
    const s = parseMultipathdStatus('path checker states:\nup                  3\n\npaths: 2\nbusy: False\n');
    expect(s).toEqual({ checkerStates: { up: 3 }, paths: 2, busy: false });
  });
  it('daemon down: exit 1, no output', () => {
    const f = fixture('multipathd-show-status-nodaemon.txt');
    expect(f.rc).toBe(1);
    expect(parseMultipathdStatus(f.out)).toEqual({ checkerStates: {}, paths: null, busy: null });
  });
});

describe('initiator name and host NQN', () => {
  it('skips the comment block of the seed file', () => {
    const text = [
      '## DO NOT EDIT OR REMOVE THIS FILE!',
      '## If you remove this file, the iSCSI daemon will not start.',
      'InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0',
    ].join('\n');
    expect(parseInitiatorName(text)).toBe('iqn.1993-08.org.debian:01:7cc8838d1c0');
    expect(parseInitiatorName('# nothing\n')).toBeNull();
  });
  it('host NQN', () => {
    expect(parseHostNqn('nqn.2014-08.org.nvmexpress:uuid:2b8d2f9a-0000-4000-8000-000000000001\n')).toBe(
      'nqn.2014-08.org.nvmexpress:uuid:2b8d2f9a-0000-4000-8000-000000000001',
    );
    expect(parseHostNqn(fixture('nvme-hostnqn.txt').out)).toBeNull();
  });
});

describe('blockdev', () => {
  it('blockdev --getro', () => {
    expect(parseBlockdevGetro('1\n')).toBe(true);
    expect(parseBlockdevGetro('0\n')).toBe(false);
    expect(parseBlockdevGetro('')).toBeNull();
  });
});

describe('systool -c fc_host -v', () => {
  it('"Error opening class fc_host" means no FC', () => {
    const f = fixture('systool-fc_host.txt');
    expect(systoolSaysNoFc(f.out)).toBe(true);
    expect(parseSystoolFcHosts(f.out)).toEqual([]);
  });
  it('parses HBA blocks', () => {
    const out = [
      'Class = "fc_host"',
      '',
      '  Class Device = "host5"',
      '    node_name           = "0x20000024ff7c5a11"',
      '    port_name           = "0x21000024ff7c5a11"',
      '    port_state          = "Online"',
      '',
      '  Class Device = "host6"',
      '    node_name           = "0x20000024ff7c5a12"',
      '    port_name           = "0x21000024ff7c5a12"',
      '    port_state          = "Linkdown"',
    ].join('\n');
    expect(parseSystoolFcHosts(out)).toEqual([
      { device: 'host5', nodeName: '0x20000024ff7c5a11', portName: '0x21000024ff7c5a11', portState: 'Online' },
      { device: 'host6', nodeName: '0x20000024ff7c5a12', portName: '0x21000024ff7c5a12', portState: 'Linkdown' },
    ]);
  });
});

describe('WWN', () => {
  it('sysfs wwid → scsi_id form (os-brick trace: naa → 3…)', () => {
    expect(wwnFromSysfsWwid('naa.60000000000000000e00000000010001\n')).toBe('360000000000000000e00000000010001');
    expect(wwnFromSysfsWwid('eui.0123456789abcdef')).toBe('20123456789abcdef');
    expect(wwnFromSysfsWwid('t10.ATA     QEMU HARDDISK')).toBeNull();
  });
  it('scsi_id output; the fixtures exit 1 with nothing', () => {
    expect(parseScsiId('36006016074e03a008d3cf25b04e2daae\n')).toBe('36006016074e03a008d3cf25b04e2daae');
    expect(parseScsiId(fixture('scsi_id-missing.txt').out)).toBeNull();
  });
});

describe('iscsi-ls', () => {
  it('parses the libiscsi fixture', () => {
    const text = readFileSync(`${FIXTURES}/libiscsi-bin-vs-tgt.txt`, 'utf8');
    const first = text.split('\n').slice(1, 2).join('\n');
    expect(parseIscsiLs(first)).toEqual([{ iqn: 'iqn.2024-01.org.peers:vol1', portal: '127.0.0.1:3260', tpgt: 1 }]);
  });
});
