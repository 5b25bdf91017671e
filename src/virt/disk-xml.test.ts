import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { buildDiskXml, checkDiskForAttach, parseDiskXml } from './disk-xml.ts';

// Seed step 7.1, both cases, exactly as Nova logged them (`attach device xml: …`).
const SEED_MULTIPATH = `<disk type="block" device="disk">
  <driver name="qemu" type="raw" cache="none" io="native"/>
  <source dev="/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9"/>
  <target bus="virtio" dev="vdb"/>
  <serial>5ed0cc5c-158c-4857-9bd5-3556884a23f0</serial>
</disk>`;
const SEED_SINGLE_PATH = `<disk type="block" device="disk">
  <driver name="qemu" type="raw" cache="none" io="native"/>
  <source dev="/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192"/>
  <target bus="virtio" dev="vdb"/>
  <serial>e8f58c95-3f8a-40dc-861d-163ce68fcdaf</serial>
</disk>`;

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isHitchError(e, 'HITCH_INVALID_ARGUMENT')) return e.message;
    throw e;
  }
  throw new Error('expected HITCH_INVALID_ARGUMENT');
}

describe('buildDiskXml: block device (seed step 7)', () => {
  it('is byte for byte the seed XML, multipath case', () => {
    const xml = buildDiskXml({
      source: { kind: 'block', path: '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9' },
      targetDev: 'vdb',
      serial: '5ed0cc5c-158c-4857-9bd5-3556884a23f0',
    });
    expect(xml).toBe(SEED_MULTIPATH);
  });

  it('is byte for byte the seed XML, single-path case', () => {
    const xml = buildDiskXml({
      source: {
        kind: 'block',
        path: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192',
      },
      targetDev: 'vdb',
      serial: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf',
      accessMode: 'rw',
    });
    expect(xml).toBe(SEED_SINGLE_PATH);
  });

  it('adds <readonly/> after the serial for access_mode ro', () => {
    const xml = buildDiskXml({ source: { kind: 'block', path: '/dev/sdb' }, targetDev: 'vdc', serial: 'vol-1', accessMode: 'ro' });
    expect(xml.split('\n').slice(-3)).toEqual(['  <serial>vol-1</serial>', '  <readonly/>', '</disk>']);
    expect(parseDiskXml(xml).readOnly).toBe(true);
  });

  it('refuses device names, paths and serials that are not what Hitch hands out', () => {
    const ok = { source: { kind: 'block' as const, path: '/dev/sdb' }, targetDev: 'vdb', serial: 'v' };
    expect(invalid(() => buildDiskXml({ ...ok, targetDev: 'sda' }))).toMatch(/target device "sda"/);
    expect(invalid(() => buildDiskXml({ ...ok, targetDev: 'vdb"/><x' }))).toMatch(/target device/);
    expect(invalid(() => buildDiskXml({ ...ok, targetDev: 'vdaaa' }))).toMatch(/target device/);
    expect(invalid(() => buildDiskXml({ ...ok, source: { kind: 'block', path: '/etc/passwd' } }))).toMatch(/not under \/dev\//);
    expect(invalid(() => buildDiskXml({ ...ok, source: { kind: 'block', path: '/dev/../etc/shadow' } }))).toMatch(/not normalised/);
    expect(invalid(() => buildDiskXml({ ...ok, source: { kind: 'block', path: '/dev/sd"b' } }))).toMatch(/characters/);
    expect(invalid(() => buildDiskXml({ ...ok, serial: '</serial><x>' }))).toMatch(/serial/);
    expect(invalid(() => buildDiskXml({ ...ok, serial: ' vol-1' }))).toMatch(/no space at either end/);
    expect(invalid(() => buildDiskXml({ ...ok, accessMode: 'rx' as 'ro' }))).toMatch(/access mode/);
  });
});

describe('buildDiskXml: QEMU-native iSCSI network disk', () => {
  it('names the LUN as IQN/LUN with one host, and references the CHAP secret by usage', () => {
    const xml = buildDiskXml({
      source: {
        kind: 'iscsi',
        iqn: 'iqn.2010-10.org.openstack:volume-5ed0cc5c',
        lun: 1,
        host: { name: '127.0.0.1', port: 3260 },
        auth: { username: 'chap<user>&"', secretUsage: 'hitch-volume-5ed0cc5c' },
        initiatorIqn: 'iqn.1993-08.org.debian:01:7cc8838d1c0',
      },
      targetDev: 'vdc',
      serial: '5ed0cc5c-158c-4857-9bd5-3556884a23f0',
    });
    expect(xml).toBe(`<disk type="network" device="disk">
  <driver name="qemu" type="raw" cache="none"/>
  <source protocol="iscsi" name="iqn.2010-10.org.openstack:volume-5ed0cc5c/1">
    <host name="127.0.0.1" port="3260"/>
    <initiator>
      <iqn name="iqn.1993-08.org.debian:01:7cc8838d1c0"/>
    </initiator>
  </source>
  <auth username="chap&lt;user&gt;&amp;&quot;">
    <secret type="iscsi" usage="hitch-volume-5ed0cc5c"/>
  </auth>
  <target bus="virtio" dev="vdc"/>
  <serial>5ed0cc5c-158c-4857-9bd5-3556884a23f0</serial>
</disk>`);
    const back = parseDiskXml(xml);
    expect(back.auth).toEqual({ username: 'chap<user>&"', secretType: 'iscsi', secretUsage: 'hitch-volume-5ed0cc5c' });
    expect(back.source).toEqual({
      protocol: 'iscsi',
      name: 'iqn.2010-10.org.openstack:volume-5ed0cc5c/1',
      initiatorIqn: 'iqn.1993-08.org.debian:01:7cc8838d1c0',
      hosts: [{ name: '127.0.0.1', port: '3260' }],
    });
  });

  it('without CHAP has no <auth>, and readonly works the same', () => {
    const xml = buildDiskXml({
      source: { kind: 'iscsi', iqn: 'iqn.2024-01.org.peers:vol1', lun: 1, host: { name: '127.0.0.2', port: 3261 } },
      targetDev: 'vdd',
      serial: 'vol1',
      accessMode: 'ro',
    });
    expect(xml).not.toContain('<auth');
    expect(xml).toContain('  <readonly/>\n</disk>');
    expect(checkDiskForAttach(xml).readOnly).toBe(true);
  });

  it('refuses a malformed IQN, LUN, portal or secret usage', () => {
    const base = { kind: 'iscsi' as const, iqn: 'iqn.2024-01.org.peers:vol1', lun: 1, host: { name: '127.0.0.1', port: 3260 } };
    const spec = (source: object) => ({ source: { ...base, ...source } as typeof base, targetDev: 'vdb', serial: 'v' });
    expect(invalid(() => buildDiskXml(spec({ iqn: 'iqn.bad' })))).toMatch(/IQN/);
    expect(invalid(() => buildDiskXml(spec({ iqn: 'iqn.2024-01.org.peers:vol1"/><x' })))).toMatch(/IQN/);
    expect(invalid(() => buildDiskXml(spec({ lun: -1 })))).toMatch(/LUN/);
    expect(invalid(() => buildDiskXml(spec({ lun: 1.5 })))).toMatch(/LUN/);
    expect(invalid(() => buildDiskXml(spec({ host: { name: 'a b', port: 3260 } })))).toMatch(/portal host/);
    expect(invalid(() => buildDiskXml(spec({ host: { name: '127.0.0.1', port: 0 } })))).toMatch(/port/);
    expect(invalid(() => buildDiskXml(spec({ auth: { username: 'u', secretUsage: 'x"y' } })))).toMatch(/secret usage/);
    expect(invalid(() => buildDiskXml(spec({ auth: { username: 'u\n', secretUsage: 'ok' } })))).toMatch(/CHAP user/);
    expect(invalid(() => buildDiskXml(spec({ auth: { username: ' u', secretUsage: 'ok' } })))).toMatch(/CHAP user/);
    expect(invalid(() => buildDiskXml(spec({ kind: 'nfs' })))).toMatch(/source kind/);
  });
});

describe('parseDiskXml / checkDiskForAttach', () => {
  it('reads the seed XML back', () => {
    expect(parseDiskXml(SEED_MULTIPATH)).toEqual({
      type: 'block',
      device: 'disk',
      driver: { name: 'qemu', type: 'raw', cache: 'none', io: 'native' },
      source: { dev: '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9', hosts: [] },
      target: { dev: 'vdb', bus: 'virtio' },
      serial: '5ed0cc5c-158c-4857-9bd5-3556884a23f0',
      readOnly: false,
      shareable: false,
    });
  });

  it("reads libvirt's single-quoted dumpxml form", () => {
    const d = parseDiskXml(`<disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='./libvirt/disk-tcg.img' index='1'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
    </disk>`);
    expect(d).toMatchObject({ type: 'file', source: { file: './libvirt/disk-tcg.img' }, target: { dev: 'vdb' }, alias: 'virtio-disk1' });
  });

  it('refuses XML that is malformed, not a disk, or not something Hitch would plug', () => {
    expect(invalid(() => parseDiskXml('<disk type="block"><target dev="vdb"/>'))).toMatch(/not well-formed/);
    expect(invalid(() => parseDiskXml('<interface type="network"/>'))).toMatch(/root must be <disk>/);
    expect(invalid(() => parseDiskXml('<!DOCTYPE x [<!ENTITY a "b">]><disk/>'))).toMatch(/DTD/);
    expect(invalid(() => parseDiskXml('<disk type="block"><source dev="/dev/sdb"/></disk>'))).toMatch(/no <target/);
    const sata = SEED_MULTIPATH.replace('bus="virtio" dev="vdb"', 'bus="sata" dev="vdb"');
    expect(invalid(() => checkDiskForAttach(sata))).toMatch(/bus "sata"/);
    const sda = SEED_MULTIPATH.replace('dev="vdb"', 'dev="sda"');
    expect(invalid(() => checkDiskForAttach(sda))).toMatch(/target device "sda"/);
    const outside = SEED_MULTIPATH.replace(/dev="\/dev\/[^"]+"/, 'dev="/var/lib/x.img"');
    expect(invalid(() => checkDiskForAttach(outside))).toMatch(/not under \/dev\//);
    const twoHosts = `<disk type="network" device="disk"><source protocol="iscsi" name="iqn.2024-01.org.peers:vol1/1"><host name="127.0.0.1" port="3260"/><host name="127.0.0.2" port="3260"/></source><target bus="virtio" dev="vdb"/></disk>`;
    expect(invalid(() => checkDiskForAttach(twoHosts))).toMatch(/exactly one <host>/);
    const rbd = twoHosts.replace('protocol="iscsi"', 'protocol="rbd"');
    expect(invalid(() => checkDiskForAttach(rbd))).toMatch(/protocol "rbd"/);
  });
});

describe('buildDiskXml round-trips through the parser (property)', () => {
  it('any valid device, path, serial, CHAP user and usage comes back unchanged', () => {
    const letters = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split(''));
    const dev = fc.tuple(letters, fc.option(letters, { nil: undefined })).map(([a, b]) => `vd${a}${b ?? ''}`);
    const pathPart = fc.stringMatching(/^[A-Za-z0-9._:@+,=-]{1,20}$/).filter((p) => p !== '.' && p !== '..');
    const path = fc.array(pathPart, { minLength: 1, maxLength: 4 }).map((ps) => `/dev/${ps.join('/')}`);
    const serial = fc.stringMatching(/^[A-Za-z0-9_ .+-]{1,40}$/).filter((x) => x.trim() === x);
    // CHAP user names are free text: quotes, angle brackets and ampersands must survive escaping.
    const user = fc.string({ minLength: 1, maxLength: 30 }).filter((u) => !/[\u0000-\u001f\u007f]/.test(u) && u.trim() === u && u.length > 0);
    const usage = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}$/);
    fc.assert(
      fc.property(dev, path, serial, user, usage, fc.boolean(), (d, p, s, u, g, ro) => {
        const block = parseDiskXml(buildDiskXml({ source: { kind: 'block', path: p }, targetDev: d, serial: s, accessMode: ro ? 'ro' : 'rw' }));
        expect([block.target.dev, block.source.dev, block.serial, block.readOnly]).toEqual([d, p, s, ro]);
        const net = checkDiskForAttach(
          buildDiskXml({
            source: { kind: 'iscsi', iqn: 'iqn.2010-10.org.openstack:volume-1', lun: 0, host: { name: 'portal-1.example', port: 3260 }, auth: { username: u, secretUsage: g } },
            targetDev: d,
            serial: s,
          }),
        );
        expect([net.auth?.username, net.auth?.secretUsage, net.serial]).toEqual([u, g, s]);
      }),
      { numRuns: 300 },
    );
  });
});
