import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNvmeList, parseNvmeListSubsys } from './nvme.ts';

/** nvme-cli 2.3's output as recorded on Linux 6.1 in the storage host guest. */
const record = (JSON.parse(readFileSync(new URL('../../sim/testdata/nvme/guest-record.json', import.meta.url), 'utf8')) as { record: Record<string, { stdout: string }> }).record;
const out = (k: string): string => {
  const r = record[k];
  if (!r) throw new Error(`no ${k} in the record`);
  return r.stdout;
};

describe('nvme-cli JSON parsers (recorded on the real kernel)', () => {
  it('list-subsys: both controllers of a two-portal subsystem, live, with their addresses', () => {
    const [s, ...rest] = parseNvmeListSubsys(out('listSubsys'));
    expect(rest).toEqual([]);
    expect(s?.nqn).toBe('nqn.2014-08.org.hitch:vol-record');
    expect(s?.name).toBe('nvme-subsys0');
    expect(s?.hostNqn).toMatch(/^nqn\.2014-08\.org\.nvmexpress:uuid:/);
    expect(s?.paths.map((p) => [p.name, p.transport, p.address.traddr, p.address.trsvcid, p.state])).toEqual([
      ['nvme0', 'tcp', '127.0.0.1', '4420', 'live'],
      ['nvme1', 'tcp', '127.0.0.2', '4420', 'live'],
    ]);
  });

  it('list-subsys for one namespace carries the ANA state; after a drop the lost controller is gone', () => {
    expect(parseNvmeListSubsys(out('listSubsysDev'))[0]?.paths.map((p) => p.anaState)).toEqual(['optimized', 'optimized']);
    expect(parseNvmeListSubsys(out('listSubsysAfterDrop'))[0]?.paths.map((p) => p.address.traddr)).toEqual(['127.0.0.1']);
  });

  it('list-subsys with nothing connected is empty', () => {
    expect(parseNvmeListSubsys(out('listSubsysEmpty'))).toEqual([]);
  });

  it('list: one device per namespace head with native multipath, one per path without', () => {
    const native = parseNvmeList(out('list'));
    expect(native.map((d) => [d.devicePath, d.nsid, d.physicalSize])).toEqual([
      ['/dev/nvme0n2', 2, 33554432],
      ['/dev/nvme0n1', 1, 67108864],
    ]);
    expect(native[0]?.model).toBe('Linux');
    expect(parseNvmeList(out('listNoMp')).map((d) => d.devicePath)).toEqual(['/dev/nvme1n2', '/dev/nvme1n1', '/dev/nvme0n2', '/dev/nvme0n1']);
    expect(parseNvmeList(out('listEmpty'))).toEqual([]);
  });

  it('malformed output is an error, not an empty answer', () => {
    expect(() => parseNvmeList('{"Devices":[{"NameSpace":"one"}]}')).toThrow(/NameSpace/);
    expect(() => parseNvmeListSubsys('{}')).toThrow(/not a list/);
  });
});
