/**
 * The simulator daemon and its client in one process: the shared Host conformance suite on a
 * `RemoteHost`, cancellation and inspection across the socket, and a whole cloud on the remote
 * data plane attaching and detaching with nothing left behind — then a second cloud (a restarted
 * server) finding the world the first one left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { hostConformance } from '../../host/conformance.ts';
import { checkInvariants } from '../../fuzz/invariants.ts';
import { startTestCloud, volumeAndServer } from '../../../test/support/cloud.ts';
import { SimClient } from './client.ts';
import { SimDaemon } from './server.ts';

async function daemon(scenario = 'healthy-single', speed = 0): Promise<{ d: SimDaemon; socket: string; dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-simd-'));
  const socket = join(dir, 'sim.sock');
  const d = await SimDaemon.start({ scenario, socketPath: socket, speed });
  return { d, socket, dispose: async () => (await d.close(), rmSync(dir, { recursive: true, force: true })) };
}

hostConformance('RemoteHost (simulator daemon)', async () => {
  const { d, socket, dispose } = await daemon();
  const client = await SimClient.connect(socket);
  const host = client.host('compute-1');
  const T = 'iqn.2010-10.org.openstack:volume-0001';
  const P = '192.0.2.10:3260';
  return {
    host,
    knownFile: { path: '/etc/iscsi/initiatorname.iscsi', content: await host.readFile('/etc/iscsi/initiatorname.iscsi') },
    knownDir: '/etc/iscsi',
    missingPath: '/dev/disk/by-path/ip-192.0.2.99:3260-iscsi-iqn.none-lun-0',
    appearing: {
      path: `/dev/disk/by-path/ip-${P}-iscsi-${T}-lun-1`,
      make: async () => {
        await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--op', 'new']);
        await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--login']);
      },
    },
    vanishing: { path: '/dev/vda', remove: () => void d.sim.host('compute-1').vfs.remove('/dev/vda') },
    settle: () => host.clock.sleep(1_000),
    // Probed from the daemon's compute host: the array's portal, a refusing one, an unserved one.
    tcp: async () => {
      await client.injectFault({ fault: 'portal-refusing', portal: '192.0.2.11:3260' });
      return { open: { address: '192.0.2.10', port: 3260 }, refused: { address: '192.0.2.11', port: 3260 }, silent: { address: '192.0.2.12', port: 3260 }, close: async () => undefined };
    },
    dispose: async () => {
      await client.close();
      await dispose();
    },
  };
});

describe('the simulator daemon', () => {
  it('answers with the virtual time, keeps the clock monotonic, and cancels a wait when the caller aborts', async () => {
    const { socket, dispose } = await daemon();
    const client = await SimClient.connect(socket);
    try {
      expect(client.info.hosts.map((h) => h.name)).toEqual(['compute-1']);
      await client.clock.sleep(2_500);
      expect(client.clock.now()).toBeGreaterThanOrEqual(2_500);
      const ac = new AbortController();
      const w = client.host('compute-1').waitForPath('/dev/sdz', { timeoutMs: 600_000, signal: ac.signal });
      ac.abort();
      await expect(w).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_ABORTED'));
      expect(client.clock.now()).toBeLessThan(600_000);
      const r = await client.host('compute-1').exec('iscsiadm', ['-m', 'session'], { okCodes: [0, 21] });
      expect(r.code).toBe(21);
      expect(await client.traceText()).toContain('iscsiadm -m session');
      await expect(client.host('compute-1').exec('rm', ['-rf', '/'])).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_EXEC_NOT_ALLOWED'));
    } finally {
      await client.close();
      await dispose();
    }
  });

  it('carries faults across the socket, "forever" included: a hung command times out on virtual time, a hypervisor refuses every time', async () => {
    const { socket, dispose } = await daemon();
    const client = await SimClient.connect(socket);
    try {
      await client.injectFault({ fault: 'command-hangs', command: 'iscsiadm', match: 'session' });
      const host = client.host('compute-1');
      await expect(host.exec('iscsiadm', ['-m', 'session'], { timeoutMs: 90_000 })).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_EXEC_TIMEOUT'));
      expect(client.clock.now()).toBeGreaterThanOrEqual(90_000);
      const hv = client.hypervisor('compute-1');
      await hv.injectFault({ op: 'undefineSecret', times: Infinity });
      for (let i = 0; i < 3; i++) await expect(hv.undefineSecret('volume-x')).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_HYPERVISOR_ERROR'));
    } finally {
      await client.close();
      await dispose();
    }
  });

  it('paced: virtual time follows the wall clock × speed, and a sleep ends when it has passed', async () => {
    const { socket, dispose } = await daemon('healthy-single', 1_000);
    const client = await SimClient.connect(socket);
    try {
      await client.clock.sleep(2_000);
      expect(client.clock.now()).toBeGreaterThanOrEqual(2_000);
    } finally {
      await client.close();
      await dispose();
    }
  });

  it('fails calls with HITCH_UPSTREAM_UNAVAILABLE once the daemon is gone', async () => {
    const { socket, dispose } = await daemon();
    const client = await SimClient.connect(socket);
    await dispose();
    await expect(client.host('compute-1').exists('/dev/vda')).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_UPSTREAM_UNAVAILABLE'));
    await client.close();
  });

  it('a cloud on the remote data plane attaches and detaches, and leaves nothing in the world', async () => {
    const { d, socket, dispose } = await daemon('healthy-multipath');
    try {
      const t = await startTestCloud({ simSocket: socket });
      try {
        expect(t.cloud.sim).toBeNull();
        const { serverId, volumeId } = await volumeAndServer(t);
        const { token } = await t.token('demo');
        const a = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
        expect(a.status).toBe(200);
        await t.cloud.settle();
        expect(await checkInvariants(t.cloud)).toEqual([]);
        expect(d.sim.inspectHost('compute-1').sessions.length).toBe(2);
        expect(d.hypervisor('compute-1').domains()[0]?.liveDisks.map((x) => x.serial)).toEqual([volumeId]);
        const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
        expect(del.status).toBe(202);
        await t.cloud.settle();
        expect(await checkInvariants(t.cloud)).toEqual([]);
        expect(d.sim.host('compute-1').leftovers()).toEqual([]);
        expect(d.hypervisor('compute-1').domains()[0]?.liveDisks).toEqual([]);
        expect(d.sim.inspectArray(d.sim.arrays()[0]!.name).filter((e) => e.target.endsWith(volumeId)).flatMap((e) => e.acls)).toEqual([]);
      } finally {
        await t.close();
      }
    } finally {
      await dispose();
    }
  });

  it('two clouds share one world: one array serves both, the host holds both attachments, and each detach leaves the other alone', async () => {
    const { d, socket, dispose } = await daemon('healthy-multipath');
    const [a, b] = [await startTestCloud({ simSocket: socket }), await startTestCloud({ simSocket: socket })];
    try {
      const va = await volumeAndServer(a);
      const vb = await volumeAndServer(b);
      const targets = () => d.sim.inspectArray(d.sim.arrays()[0]!.name).filter((e) => e.target.endsWith(va.volumeId) || e.target.endsWith(vb.volumeId));
      expect(targets().length).toBe(2);
      for (const [t, v] of [[a, va], [b, vb]] as const) {
        const r = await t.api('POST', `/compute/v2.1/servers/${v.serverId}/os-volume_attachments`, { token: v.token, body: { volumeAttachment: { volumeId: v.volumeId } } });
        expect(r.status).toBe(200);
        await t.cloud.settle();
      }
      expect(targets().map((e) => e.acls.length)).toEqual([1, 1]);
      expect(new Set(d.sim.inspectHost('compute-1').sessions.map((x) => x.target)).size).toBe(2);
      await a.api('DELETE', `/compute/v2.1/servers/${va.serverId}/os-volume_attachments/${va.volumeId}`, { token: va.token });
      await a.cloud.settle();
      expect(d.sim.inspectHost('compute-1').sessions.map((x) => x.target).every((t) => t.endsWith(vb.volumeId))).toBe(true);
      await b.api('DELETE', `/compute/v2.1/servers/${vb.serverId}/os-volume_attachments/${vb.volumeId}`, { token: vb.token });
      await b.cloud.settle();
      expect(d.sim.host('compute-1').leftovers()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
      await dispose();
    }
  });
});
