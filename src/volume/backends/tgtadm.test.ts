import { describe, expect, it } from 'vitest';
import { parseTgtAccounts, parseTgtPortals, parseTgtTargets } from './tgtadm.ts';

// fixtures/host/tgtadm-show-target-with-qemu-session.txt (target 2 trimmed to what differs),
// plus an initiator-name ACL as `--op bind --initiator-name` leaves it.
const SHOW = `Target 1: iqn.2024-01.org.peers:vol1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 13
            Initiator: iqn.2008-11.org.linux-kvm:9d1c2420-c76b-4b06-be25-03e7dfacb698 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: vol1-scsi-id
            SCSI SN: beaf10
            Size: 67 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: ./tgt/lun1.img
            Backing store flags: 
    Account information:
    ACL information:
        ALL
Target 2: iqn.2010-10.org.openstack:volume-aaa
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
        LUN: 1
            Type: disk
            Backing store path: /var/lib/hitch/tgt/volume-aaa.img
    Account information:
        2f1c0e5a9b7d3c4e6f80
        mutual (outgoing)
    ACL information:
        iqn.1993-08.org.debian:01:c2fee93d7bfa
        127.0.0.1
`;

describe('tgtadm parsers', () => {
  it('reads targets: tid, iqn, state, sessions, LUNs with backing files and sizes, incoming accounts, ACLs', () => {
    const [a, b, ...rest] = parseTgtTargets(SHOW);
    expect(rest).toEqual([]);
    expect(a).toEqual({
      tid: 1,
      iqn: 'iqn.2024-01.org.peers:vol1',
      state: 'ready',
      nexuses: [{ id: 13, initiator: 'iqn.2008-11.org.linux-kvm:9d1c2420-c76b-4b06-be25-03e7dfacb698', addresses: ['127.0.0.1'] }],
      luns: [
        { lun: 0, type: 'controller', path: null, sizeMb: 0 },
        // 64 MiB: tgtd prints decimal megabytes, rounded.
        { lun: 1, type: 'disk', path: './tgt/lun1.img', sizeMb: 67 },
      ],
      accounts: [],
      acls: ['ALL'],
    });
    expect(b?.accounts).toEqual(['2f1c0e5a9b7d3c4e6f80']);
    expect(b?.acls).toEqual(['iqn.1993-08.org.debian:01:c2fee93d7bfa', '127.0.0.1']);
    expect(b?.nexuses).toEqual([]);
    expect(b?.luns.map((l) => l.sizeMb)).toEqual([null, null]);
  });

  it('reads an empty tgtd as no targets, and refuses text that is not tgtadm output', () => {
    expect(parseTgtTargets('')).toEqual([]);
    expect(() => parseTgtTargets('tgtadm: failed to send request hdr to tgt daemon')).toThrow(/unexpected tgtadm output/);
    expect(() => parseTgtTargets('Target 1: iqn.x:y\n    Something new:\n')).toThrow(/unexpected tgtadm output/);
  });

  it('reads accounts and portals', () => {
    expect(parseTgtAccounts('Account list:\n    u1\n    u2\n    out (outgoing)\n')).toEqual(['u1', 'u2']);
    expect(parseTgtAccounts('')).toEqual([]);
    expect(parseTgtPortals('Portal: 127.0.0.2:13260,1\nPortal: 127.0.0.1:13260,1\n')).toEqual(['127.0.0.2:13260', '127.0.0.1:13260']);
    expect(parseTgtPortals('Portal: [::1]:3260,1\n')).toEqual(['[::1]:3260']);
  });
});
