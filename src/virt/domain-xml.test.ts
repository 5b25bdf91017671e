import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { buildDomainXml, parseDomainXml, parseDomblklist } from './domain-xml.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';

const TINY: DomainSpec = {
  name: 'instance-0000002a',
  uuid: '62b302e5-6d95-4e61-8dd4-6aa8b1049545',
  memoryMiB: 128,
  vcpus: 1,
  virtType: 'qemu',
  boot: { kernel: '/var/lib/hitch/guest/vmlinuz', initrd: '/var/lib/hitch/guest/initrd.gz', cmdline: 'console=ttyS0 quiet' },
  console: { kind: 'file', path: '/var/lib/hitch/guest/instance-0000002a.log' },
};

describe('buildDomainXml', () => {
  it('builds a TCG domain with ACPI, direct kernel boot and a serial console to a file', () => {
    expect(buildDomainXml(TINY)).toBe(`<domain type="qemu">
  <name>instance-0000002a</name>
  <uuid>62b302e5-6d95-4e61-8dd4-6aa8b1049545</uuid>
  <memory unit="MiB">128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch="x86_64">hvm</type>
    <kernel>/var/lib/hitch/guest/vmlinuz</kernel>
    <initrd>/var/lib/hitch/guest/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset="utc"/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type="file">
      <source path="/var/lib/hitch/guest/instance-0000002a.log"/>
      <target port="0"/>
    </serial>
    <memballoon model="none"/>
  </devices>
</domain>`);
  });

  it('without a kernel boots from disk, with a pty console, and round-trips through the parser', () => {
    const xml = buildDomainXml({ name: 'srv1', uuid: TINY.uuid, memoryMiB: 64, vcpus: 2, virtType: 'kvm' });
    expect(xml).toContain('<boot dev="hd"/>');
    expect(xml).toContain('<serial type="pty">');
    expect(parseDomainXml(xml)).toEqual({ name: 'srv1', uuid: TINY.uuid, type: 'kvm', memoryKiB: 65536, vcpus: 2, acpi: true, disks: [] });
  });

  it('refuses bad names, uuids, sizes and paths', () => {
    const bad = (patch: Partial<DomainSpec>): string => {
      try {
        buildDomainXml({ ...TINY, ...patch });
      } catch (e) {
        if (isHitchError(e, 'HITCH_INVALID_ARGUMENT')) return e.message;
        throw e;
      }
      throw new Error('expected a refusal');
    };
    expect(bad({ name: '--help' })).toMatch(/domain name/);
    expect(bad({ name: 'a</name>' })).toMatch(/domain name/);
    expect(bad({ uuid: 'not-a-uuid' })).toMatch(/UUID/);
    expect(bad({ memoryMiB: 8 })).toMatch(/memory/);
    expect(bad({ vcpus: 0 })).toMatch(/vcpus/);
    expect(bad({ virtType: 'xen' as 'kvm' })).toMatch(/domain type/);
    expect(bad({ boot: { kernel: 'vmlinuz' } })).toMatch(/kernel/);
    expect(bad({ boot: { kernel: '/k', cmdline: 'a\nb' } })).toMatch(/command line/);
    expect(bad({ boot: { kernel: '/k' }, bootsFromVolume: true })).toMatch(/boots from a volume/);
    expect(bad({ console: { kind: 'file', path: '/var/../etc/x' } })).toMatch(/console log/);
  });
});

describe('parseDomainXml', () => {
  it("reads virsh dumpxml (fixtures/host/libvirt-hotplug-tcg.txt): disks, ACPI, memory in KiB", () => {
    const dumpxml = `<domain type='qemu' id='5'>
  <name>peer-qemu</name>
  <uuid>e755b0a0-5ae4-4890-951e-00447b1baf47</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>1</vcpu>
  <features>
    <acpi/>
    <apic/>
  </features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='./libvirt/disk-tcg.img' index='1'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='./libvirt/disk-scsi.img' index='3'/>
      <backingStore/>
      <target dev='vdz' bus='virtio'/>
      <alias name='virtio-disk25'/>
    </disk>
    <serial type='pty'>
      <source path='/dev/pts/1'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
  </devices>
</domain>`;
    const d = parseDomainXml(dumpxml);
    expect(d).toMatchObject({ name: 'peer-qemu', type: 'qemu', memoryKiB: 65536, vcpus: 1, acpi: true });
    expect(d.disks.map((x) => [x.target.dev, x.source.file, x.alias])).toEqual([
      ['vdb', './libvirt/disk-tcg.img', 'virtio-disk1'],
      ['vdz', './libvirt/disk-scsi.img', 'virtio-disk25'],
    ]);
  });
});

describe('parseDomblklist', () => {
  it('reads --details output with block, file and network disks (libvirt-hotplug-scsi-and-iscsi.txt)', () => {
    const out = ` Type      Device   Target   Source
----------------------------------------------------------------
 file      disk     vdb      ./libvirt/disk-file.img
 block     disk     vdc      /dev/loop0
 network   disk     vdd      iqn.2024-01.org.peers:vol1/1
 network   disk     vde      iqn.2024-01.org.peers:vol2-chap/1

`;
    expect(parseDomblklist(out)).toEqual([
      { type: 'file', device: 'disk', target: 'vdb', source: './libvirt/disk-file.img' },
      { type: 'block', device: 'disk', target: 'vdc', source: '/dev/loop0' },
      { type: 'network', device: 'disk', target: 'vdd', source: 'iqn.2024-01.org.peers:vol1/1' },
      { type: 'network', device: 'disk', target: 'vde', source: 'iqn.2024-01.org.peers:vol2-chap/1' },
    ]);
  });

  it('reads the plain form and the empty tables', () => {
    expect(parseDomblklist(' Target   Source\n--------------------------------------------\n vdb      ./libvirt/disk-file.img\n vdc      /dev/loop0\n\n')).toEqual([
      { target: 'vdb', source: './libvirt/disk-file.img' },
      { target: 'vdc', source: '/dev/loop0' },
    ]);
    expect(parseDomblklist(' Type   Device   Target   Source\n----------------------------------\n\n')).toEqual([]);
    expect(parseDomblklist(' Target   Source\n------------------\n\n')).toEqual([]);
  });

  it('refuses output it does not recognise', () => {
    expect(() => parseDomblklist('error: failed to get domain')).toThrow(/unexpected domblklist output/);
  });
});
