/**
 * Fixture fidelity: for states that match a real capture in ../shared/fixtures/host/, the
 * simulator's exit code and output equal the capture's.
 *
 * The captures merged stderr and stdout (`2>&1`, stdout buffered until exit), so a fixture's
 * output is compared with the simulator's stderr followed by its stdout. They were taken on a
 * machine without iscsid, systemd or a device-mapper kernel; the simulator models a host where
 * iscsid and multipathd DO run, so the lines that only exist because the daemon is missing
 * ("System has not been booted with systemd…", "Failed to connect to bus…", "can not connect to
 * iSCSI daemon (111)!") are dropped from the expectation, and captures that are nothing but
 * the daemon's absence (login exit 20, discovery exit 12, `multipath` without device-mapper)
 * are not compared at all.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimHost } from './sim-host.ts';
import type { Scenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

/** Copies of the captures live beside the test (a fresh clone has no ../shared). */
const FIXTURES = new URL('./testdata/host/', import.meta.url);
const SHARED = new URL('../../../shared/fixtures/host/', import.meta.url);

const NO_DAEMON_NOISE = [
  "System has not been booted with systemd as init system (PID 1). Can't operate.",
  'Failed to connect to bus: Host is down',
  'iscsiadm: can not connect to iSCSI daemon (111)!',
];

interface Fixture {
  readonly cmd: string;
  readonly args: string[];
  readonly output: string;
  readonly rc: number;
}

function fixture(name: string): Fixture {
  const text = readFileSync(new URL(name, FIXTURES), 'utf8');
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const first = lines[0] ?? '';
  const last = lines[lines.length - 1] ?? '';
  const rc = /^\[rc=(\d+)/.exec(last);
  if (!first.startsWith('$ ') || !rc) throw new Error(`unexpected fixture shape: ${name}`);
  const [cmd = '', ...args] = first.slice(2).trim().split(/\s+/);
  const body = lines.slice(1, -1).filter((l) => !NO_DAEMON_NOISE.includes(l));
  return { cmd, args, output: body.length ? body.join('\n') + '\n' : '', rc: Number(rc[1]) };
}

/** A host like the one the fixtures were captured on (loop0, zram0, vda; / on /dev/vda). */
const CAPTURE_HOST: Scenario = {
  name: 'capture-host',
  portals: { '127.0.0.1:3999': { state: 'refusing' } },
  arrays: [
    {
      name: 'peers',
      portals: ['127.0.0.1:3260', '127.0.0.2:3261'],
      vendor: 'IET',
      model: 'VIRTUAL-DISK',
      targets: [{ iqn: 'iqn.2024-01.org.peers:vol1', portals: ['127.0.0.1:3260', '127.0.0.2:3261'], luns: [{ lun: 1, sizeBytes: 67108864 }], acl: [{ initiator: 'iqn.2024-01.org.peers:initiator1' }] }],
    },
  ],
  hosts: [
    {
      name: 'capture',
      initiator: 'iqn.2024-01.org.peers:initiator1',
      ip: '127.0.0.1',
      multipathd: true,
      localDisks: [
        { name: 'loop0', sizeBytes: 16777216 },
        { name: 'zram0', sizeBytes: 0 },
        { name: 'vda', sizeBytes: 274877906944 },
      ],
      mounts: { '/': '/dev/vda' },
    },
  ],
};

function newHost(over: Partial<Scenario['hosts'][number]> = {}): SimHost {
  const base = CAPTURE_HOST.hosts[0] as Scenario['hosts'][number];
  const host = new SimHost(Simulation.create({ ...CAPTURE_HOST, hosts: [{ ...base, ...over }] }), 'capture');
  // The capture machine's iscsiadm read no node settings from an iscsid.conf: its new records
  // carry open-iscsi's built-in defaults (login_timeout 30, initial_login_retry_max 4), where a
  // Debian host's carry its iscsid.conf's (15, 8: the fidelity suite's node-records scene).
  host.model.vfs.writeText('/etc/iscsi/iscsid.conf', '');
  return host;
}

async function check(host: SimHost, name: string): Promise<void> {
  const f = fixture(name);
  const r = await host.exec(f.cmd, f.args, { okCodes: 'any' });
  expect({ rc: r.code, output: r.stderr + r.stdout }, name).toEqual({ rc: f.rc, output: f.output });
}

const VOL1 = 'iqn.2024-01.org.peers:vol1';

async function opNew(host: SimHost, portal: string): Promise<void> {
  await host.exec('iscsiadm', ['-m', 'node', '-T', VOL1, '-p', portal, '--interface', 'default', '--op', 'new']);
}

describe('simulator output equals the real tools’ captures', () => {
  it.skipIf(!existsSync(fileURLToPath(SHARED)))('uses copies identical to ../shared/fixtures/host/', () => {
    for (const name of readdirSync(fileURLToPath(FIXTURES))) {
      expect(readFileSync(new URL(name, FIXTURES), 'utf8'), name).toBe(readFileSync(new URL(name, SHARED), 'utf8'));
    }
  });

  it('iscsiadm on an empty host: no sessions, no records', async () => {
    const host = newHost();
    for (const name of [
      'iscsiadm-session-no-iscsid.txt',
      'iscsiadm-session-P3-none.txt',
      'iscsiadm-node-list-empty.txt',
      'iscsiadm-node-show-missing.txt',
      'iscsiadm-node-delete-missing.txt',
      'iscsiadm-node-logout-nosession.txt',
      'iscsiadm-session-rescan-nosession.txt',
      'iscsiadm-iface-list.txt',
    ]) {
      await check(host, name);
    }
  });

  it('iscsiadm node records: --op new (twice), show, list, update, delete', async () => {
    const host = newHost();
    await check(host, 'iscsiadm-node-op-new.txt');
    await check(host, 'iscsiadm-node-op-new-again.txt');
    await check(host, 'iscsiadm-node-show.txt');
    await check(host, 'iscsiadm-node-op-new-portal2.txt');
    await check(host, 'iscsiadm-node-list.txt');
    await check(host, 'iscsiadm-node-update-scan-manual.txt');
    await check(host, 'iscsiadm-node-update-chap.txt');
    await check(host, 'iscsiadm-node-update-startup.txt');
    await check(host, 'iscsiadm-node-delete.txt');
  });

  it('iscsiadm discoverydb: new record, and show with two addresses and two static records', async () => {
    const host = newHost();
    await host.exec('iscsiadm', ['-m', 'discoverydb', '-t', 'sendtargets', '-p', '127.0.0.2:3261', '-o', 'new']);
    await opNew(host, '127.0.0.1:3260');
    await opNew(host, '127.0.0.2:3261');
    await check(host, 'iscsiadm-discoverydb-new.txt');
    // The capture's two addresses print newest first; so do the static records.
    await host.exec('iscsiadm', ['-m', 'discoverydb', '-o', 'delete', '-t', 'sendtargets', '-p', '127.0.0.2:3261']);
    await host.exec('iscsiadm', ['-m', 'discoverydb', '-t', 'sendtargets', '-p', '127.0.0.2:3261', '-o', 'new']);
    await check(host, 'iscsiadm-discoverydb-show.txt');
  });

  it('systool, scsi_id, lsblk, blockdev, findmnt, cat on the capture host', async () => {
    const host = newHost();
    for (const name of [
      'systool-fc_host.txt',
      'systool-iscsi_host.txt',
      'systool-scsi_host.txt',
      'scsi_id-missing.txt',
      'scsi_id-vda.txt',
      'scsi_id-loop0.txt',
      'lsblk-name-ro.txt',
      'blockdev-getsize64-loop0.txt',
      'findmnt-root.txt',
      'nvme-hostnqn.txt',
    ]) {
      await check(host, name);
    }
  });

  it('multipathd with the daemon down: exit 1, no output', async () => {
    const host = newHost({ multipathd: false });
    for (const name of ['multipathd-show-status-nodaemon.txt', 'multipathd-add-path-nodaemon.txt', 'multipathd-del-path-nodaemon.txt']) {
      await check(host, name);
    }
  });

  it('libiscsi tools against the capture host’s target (a QEMU-native probe)', async () => {
    const host = newHost();
    const fx = readFileSync(new URL('libiscsi-bin-vs-tgt.txt', FIXTURES), 'utf8');
    // This capture holds many commands; take the blocks whose state the sim models (tgt's
    // LUN 0 controller and the CHAP target made later in the capture are not modelled).
    const blocks = fx.split('\n\n').map((b) => b.trim());
    const wanted = [
      '$ iscsi-ls -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3260',
      '$ iscsi-inq -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3260/iqn.2024-01.org.peers:vol1/1',
      '$ iscsi-readcapacity16 -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3260/iqn.2024-01.org.peers:vol1/1',
      '$ iscsi-readcapacity16 -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.2:3261/iqn.2024-01.org.peers:vol1/1',
      '$ iscsi-inq -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3260/iqn.2024-01.org.peers:nosuch/1',
      '$ iscsi-ls -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3999',
    ];
    for (const head of wanted) {
      const block = blocks.find((b) => b.startsWith(head + '\n'));
      expect(block, head).toBeDefined();
      const ls = (block as string).split('\n');
      const [cmd = '', ...args] = head.slice(2).split(' ');
      const rc = Number(/^\[rc=(\d+)/.exec(ls[ls.length - 1] ?? '')?.[1]);
      const r = await host.exec(cmd, args, { okCodes: 'any' });
      expect({ rc: r.code, output: r.stderr + r.stdout }, head).toEqual({ rc, output: ls.slice(1, -1).join('\n') + '\n' });
    }
  });

  it('the seed’s outputs where the seed shows them', async () => {
    const host = new SimHost(Simulation.create('seed'));
    const fc = await host.exec('systool', ['-c', 'fc_host', '-v'], { okCodes: 'any' });
    expect([fc.code, fc.stdout]).toEqual([1, 'Error opening class fc_host\n']);
    expect(await host.readFile('/etc/iscsi/initiatorname.iscsi')).toBe(
      `## DO NOT EDIT OR REMOVE THIS FILE!
## If you remove this file, the iSCSI daemon will not start.
## If you change the InitiatorName, existing access control lists
## may reject this initiator.  The InitiatorName must be unique
## for each iSCSI initiator.  Do NOT duplicate iSCSI InitiatorNames.
InitiatorName=iqn.1993-08.org.debian:01:7cc8838d1c0
`,
    );
  });
});
