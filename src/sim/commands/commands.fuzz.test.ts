/**
 * Whatever arguments an initiator passes, a simulated tool answers with an exit code and text —
 * a usage error at worst — and never throws: a crash in the simulator would look like a bug in
 * the code under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSimHost } from '../sim-host.ts';

const BINARIES = ['iscsiadm', 'multipath', 'multipathd', '/lib/udev/scsi_id', 'lsblk', 'blockdev', 'systool', 'findmnt', 'cat', 'tee', 'ls', 'iscsi-ls', 'iscsi-inq', 'iscsi-readcapacity16'];

const WORDS = [
  '-m', 'node', 'session', 'discovery', 'discoverydb', 'iface', 'bogus', '-T', 'iqn.2010-10.org.openstack:volume-0001', '-p', '192.0.2.10:3260', '192.0.2.10',
  '[::1]:3260', 'not a portal', '--op', 'new', 'update', 'delete', 'show', '-n', 'node.startup', 'node.session.scan', '-v', 'manual', 'automatic', '--login', '--logout',
  '--rescan', '-r', '1', '999', 'x', '-P', '3', '-t', 'sendtargets', '-o', '--discover', '-l', '-ll', '-f', '-F', '-a', '-C', '-c', '-z', 'show', 'status', 'add',
  'del', 'path', '/dev/sda', '/dev/sdz', '/dev/vda', '/dev/mapper/x', '--page', '0x83', '--whitelisted', '-o', 'NAME,RO', 'NAME,BOGUS', '-n', '--getro', '--getsize64',
  '--flushbufs', '-c', 'fc_host', 'scsi_host', '-v', '/', '/sys/class/scsi_host/host2/scan', '/sys/block/sda/device/delete', '/etc/iscsi/initiatorname.iscsi', '-a',
  '-i', 'iqn.1993-08.org.debian:01:compute1', 'iscsi://192.0.2.10:3260', 'iscsi://192.0.2.10:3260/iqn.2010-10.org.openstack:volume-0001/1', 'iscsi://', '-s', '-e', '--', '',
];

describe('simulated commands never crash', () => {
  it('answer random argument lists with an exit code', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.2010-10.org.openstack:volume-0001', '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.2010-10.org.openstack:volume-0001', '-p', '192.0.2.10:3260', '--login']);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BINARIES), fc.array(fc.constantFrom(...WORDS), { maxLength: 8 }), fc.string({ maxLength: 12 }), async (cmd, args, input) => {
        const r = await host.exec(cmd, args, { okCodes: 'any', input: input.replace(/\0/g, ''), timeoutMs: 10_000 }).catch((e: unknown) => e);
        if (r instanceof Error) {
          // Only the exec timeout (a dead-portal probe) is an acceptable throw.
          expect((r as { code?: string }).code).toBe('HITCH_EXEC_TIMEOUT');
          return;
        }
        expect(typeof (r as { code: number }).code).toBe('number');
      }),
      { numRuns: 400, seed: 20261125 },
    );
  });
});
