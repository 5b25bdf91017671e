/**
 * The storage-host suite's NVMe/TCP case through Hitch's own services: the all-in-one cloud
 * (`createCloud`, what `hitch serve` runs) inside the storage host guest, with `backend: nvmet`
 * (the kernel's NVMe target through configfs), `attachMode: kernel` (brick on the guest's
 * nvme-tcp initiator, `LinuxHost`) and `virt: sim` — the simulated hypervisor in front of the
 * real host: the guest has no libvirt and no nested QEMU, and the simulated QEMU opens only a
 * block device the real host has (`blockSourceExists`), so the hot-plug step is modelled while
 * every storage step is the real kernel's. The cloud listens on the guest's loopback and is
 * driven over HTTP: a token from the identity API, a volume from the block storage API, a
 * server and its os-volume_attachments from the compute API.
 *
 * Two clouds, one after the other, each on a data directory of its own: the healthy path (one
 * portal, `nvmetPortals: 127.0.0.1:4420`), then two portals with 127.0.0.2 dropped by nftables.
 * Each attaches, checks I/O through the device the hypervisor was given, detaches, and looks
 * at what the host still holds. `storage-host.test.ts` judges the result.
 */
import { readdirSync, realpathSync, writeFileSync } from 'node:fs';
import type { GuestCases, GuestContext } from '../../src/test-support/storage-host/guest/runner.ts';
import { must, sh, verifyIo } from '../../src/test-support/storage-host/guest/storage.ts';
import { NvmetTarget, nvmeLeftovers, type NvmeLeftovers } from './nvmet-target.ts';
import { parseNvmeListSubsys } from '../../src/brick/parsers/nvme.ts';

const NVMET = '/sys/kernel/config/nvmet';

function ls(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Controllers of a subsystem with their states, from `nvme list-subsys -o json`. */
async function paths(nqn: string): Promise<string[]> {
  const r = await must('nvme', ['list-subsys', '-o', 'json']);
  return parseNvmeListSubsys(r.stdout)
    .filter((s) => s.nqn === nqn)
    .flatMap((s) => s.paths.map((p) => `${p.address.traddr}:${p.state}`))
    .sort();
}

async function dropPortal(ip: string): Promise<void> {
  writeFileSync(
    '/tmp/hitch-nvme-api-drop.nft',
    ['table inet hitch_nvme_api_drop {', '  chain in { type filter hook input priority 0; policy accept;', `    ip daddr ${ip} tcp dport 4420 drop`, `    ip saddr ${ip} tcp sport 4420 drop`, '  }', '}', ''].join('\n'),
  );
  await must('nft', ['-f', '/tmp/hitch-nvme-api-drop.nft']);
}

async function liftDrop(): Promise<void> {
  await sh('nft', ['delete', 'table', 'inet', 'hitch_nvme_api_drop']);
}

/** Poll a condition at a fixed 50 ms (the attach time is measured through it: no backoff). */
async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run one step of the case, saying on the console when it takes long (what a stuck run shows). */
async function step<T>(ctx: GuestContext, what: string, fn: () => Promise<T>, more: () => string = () => ''): Promise<T> {
  const t0 = Date.now();
  const timer = setInterval(() => ctx.log(`still waiting for ${what} after ${Math.round((Date.now() - t0) / 1000)} s ${more()}`), 15_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

interface SpanView {
  readonly id: number;
  readonly parent_id: number | null;
  readonly name: string;
  readonly start_ms: number;
  readonly end_ms: number | null;
  readonly outcome?: string;
  readonly attrs?: Record<string, unknown>;
}

/** One attach and detach through the HTTP APIs of a cloud serving `portals` (nvmet), `drop`: 127.0.0.2 dropped first. */
async function throughApi(ctx: GuestContext, portals: readonly string[], drop: boolean): Promise<Record<string, unknown>> {
  // Loaded when the case runs: the cloud's modules (HTTP, database) are not the other cases' business.
  const { startTestCloud } = await import('../support/cloud.ts');
  const { TINY_IMAGE_ID } = await import('../../src/compute/images.ts');
  const t0 = Date.now();
  const t = await startTestCloud({ backend: 'nvmet', virt: 'sim', attachMode: 'kernel', nvmetPortals: portals.join(','), detachTimeoutMs: 30_000 });
  const startMs = Date.now() - t0;
  ctx.log(`cloud up in ${startMs} ms (nvmet on ${portals.join(', ')})`);
  try {
    const { token, projectId } = await t.token('demo');
    const admin = await t.token('admin');
    const v = await t.api('POST', `/volume/v3/${projectId}/volumes`, { token, body: { volume: { size: 1, name: 'nvme-api' } } });
    if (v.status !== 202) throw new Error(`volume create: ${v.status} ${JSON.stringify(v.body)}`);
    const volumeId = v.body.volume.id as string;
    const status = async (): Promise<string> => (await t.api('GET', `/volume/v3/${projectId}/volumes/${volumeId}`, { token })).body.volume.status as string;
    let lastLook = 0;
    let seen = '';
    /** The volume in `want`; an operation of `kind` that failed ends the wait with its error and failed steps. */
    const reached = async (want: string, kind: 'attach' | 'detach'): Promise<true | undefined> => {
      const now = await status();
      if (now === want) return true;
      // The operation's state, once a second (the trace is a heavier read than the volume).
      if (Date.now() - lastLook < 1_000) return undefined;
      lastLook = Date.now();
      const ops = ((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body?.operations ?? []) as {
        kind: string;
        state: string;
        error: unknown;
        spans: SpanView[];
      }[];
      seen = `volume ${now}; operations ${ops.map((o) => `${o.kind} ${o.state} at ${(o as { step?: string }).step ?? '?'} ${o.error ? JSON.stringify(o.error) : ''}`).join(', ')}`;
      const failed = ops.find((o) => o.kind === kind && o.state === 'failed');
      if (failed) {
        const steps = failed.spans.filter((x) => x.outcome === 'error').map((x) => `${x.name} ${JSON.stringify(x.attrs ?? {})} ${JSON.stringify((x as { error?: unknown }).error ?? null)}`);
        throw new Error(`${kind} failed (volume ${now}): ${JSON.stringify(failed.error)}; failed spans: ${steps.join(' | ').slice(0, 3000)}`);
      }
      return undefined;
    };
    await poll('the volume to be available', async () => ((await status()) === 'available' ? true : undefined), 60_000);
    let serverId = '';
    const s = await t.api('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'nvme-api-vm', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    if (s.status !== 202) throw new Error(`server create: ${s.status} ${JSON.stringify(s.body)}`);
    serverId = s.body.server.id as string;
    await step(ctx, 'the server to be built', () => t.cloud.settle());
    const view = (await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token: admin.token })).body.server;
    if (view.status !== 'ACTIVE') throw new Error(`server not ACTIVE: ${JSON.stringify(view)}`);
    const domain = view['OS-EXT-SRV-ATTR:instance_name'] as string;
    const nqn = `nqn.2014-08.org.openstack:volume-${volumeId}`;
    // What the backend made in configfs: the volume's subsystem, one port per configured portal.
    const exported = { subsystems: ls(`${NVMET}/subsystems`), ports: ls(`${NVMET}/ports`).map((p) => `${p} ${ls(`${NVMET}/ports/${p}/subsystems`).join(' ')}`) };

    if (drop) await dropPortal('127.0.0.2');
    ctx.log(`attach through the compute API (${portals.join(', ')}${drop ? '; 127.0.0.2 dropped' : ''})`);
    const ta = Date.now();
    const a = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    if (a.status !== 200) throw new Error(`attach: ${a.status} ${JSON.stringify(a.body)}`);
    await step(ctx, 'the attach', () => poll('the volume to be in-use', () => reached('in-use', 'attach'), 300_000), () => seen);
    const attachMs = Date.now() - ta;
    const pathsAtReturn = await paths(nqn);
    const disks = await t.cloud.hosts[0]!.hypervisor.listDisks(domain);
    const source = disks.find((d) => d.target !== 'vda')?.source ?? disks[0]?.source ?? '';
    const device = realpathSync(source);
    const io = await step(ctx, 'I/O through the device', () => verifyIo(device, 2));
    ctx.log(`attached in ${attachMs} ms: ${source} → ${device}; paths ${pathsAtReturn.join(' ')}`);
    const tSettle = Date.now();
    const reaper = (): string => JSON.stringify({ lastReap: t.cloud.hosts[0]?.manager.lastReap ? { reaped: t.cloud.hosts[0].manager.lastReap.reaped, failures: t.cloud.hosts[0].manager.lastReap.failures } : null });
    await step(ctx, 'the cloud to settle after the attach', () => t.cloud.settle(), reaper);
    const settledAfterMs = Date.now() - tSettle;
    const pathsSettled = await paths(nqn);
    const bdm = await t.cloud.computeRepository.getBdm(serverId, volumeId);
    const connectionInfo = JSON.parse(bdm?.connection_info ?? 'null') as { driver_volume_type: string; data: { portals: unknown[]; target_nqn: string; vol_uuid: string } } | null;

    const td = Date.now();
    const d = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    if (d.status !== 202) throw new Error(`detach: ${d.status} ${JSON.stringify(d.body)}`);
    await step(ctx, 'the detach', () => poll('the volume to be available again', () => reached('available', 'detach'), 120_000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${seen}`);
    }), () => seen);
    const detachMs = Date.now() - td;
    ctx.log(`detached in ${detachMs} ms`);
    await step(ctx, 'the cloud to settle after the detach', () => t.cloud.settle(), reaper);
    await sh('udevadm', ['settle', '--timeout=30']);
    const left: NvmeLeftovers = nvmeLeftovers();
    const disksAfter = (await t.cloud.hosts[0]!.hypervisor.listDisks(domain)).map((x) => x.source);
    const ops = ((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body.operations ?? []) as { kind: string; state: string; spans: SpanView[] }[];
    const steps = (kind: string): string[] => {
      const op = ops.find((o) => o.kind === kind);
      if (!op) return [];
      return op.spans.filter((x) => x.parent_id === null).map((x) => `${x.name} ${x.end_ms === null ? '?' : x.end_ms - x.start_ms} ms${x.outcome && x.outcome !== 'ok' ? ` ${x.outcome}` : ''}`);
    };
    const commands = (kind: string): string[] => {
      const op = ops.find((o) => o.kind === kind);
      if (!op) return [];
      return op.spans
        .filter((x) => x.name.startsWith('exec '))
        .map((x) => `${String(x.attrs?.['command'] ?? x.name)} → ${String(x.attrs?.['exitCode'] ?? '?')} (${x.end_ms === null ? '?' : x.end_ms - x.start_ms} ms)`);
    };
    // Brick's TCP probe of each portal before its nvme connect.
    const probes = (kind: string): string[] =>
      (ops.find((o) => o.kind === kind)?.spans ?? [])
        .filter((x) => x.name === 'probe tcp')
        .map((x) => `${String(x.attrs?.['portal'] ?? '?')} ${String(x.attrs?.['outcome'] ?? 'running')} (${x.end_ms === null ? '?' : x.end_ms - x.start_ms} ms)`);
    const attachOp = ops.find((o) => o.kind === 'attach');
    const reap = t.cloud.hosts[0]?.manager.lastReap ?? null;

    if (drop) await liftDrop();
    const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}`, { token });
    if (del.status !== 204) throw new Error(`server delete: ${del.status} ${JSON.stringify(del.body)}`);
    await step(ctx, 'the server delete', () => t.cloud.settle());
    const vd = await t.api('DELETE', `/volume/v3/${projectId}/volumes/${volumeId}`, { token });
    if (vd.status !== 202) throw new Error(`volume delete: ${vd.status} ${JSON.stringify(vd.body)}`);
    await poll('the volume to be gone', async () => ((await t.api('GET', `/volume/v3/${projectId}/volumes/${volumeId}`, { token })).status === 404 ? true : undefined), 60_000);
    return {
      startMs,
      volumeId,
      exported,
      connectionInfo,
      attachMs,
      attachState: attachOp?.state ?? null,
      source,
      device,
      pathsAtReturn,
      io,
      settledAfterMs,
      pathsSettled,
      detachMs,
      left,
      disksAfter,
      subsystemsAfterDelete: ls(`${NVMET}/subsystems`),
      attachSteps: steps('attach'),
      attachCommands: commands('attach'),
      attachProbes: probes('attach'),
      detachSteps: steps('detach'),
      detachCommands: commands('detach'),
      lastReap: reap ? { reaped: reap.reaped, failures: reap.failures } : null,
    };
  } finally {
    if (drop) await liftDrop();
    await t.close();
  }
}

export const nvmeApiCases: GuestCases = {
  /**
   * Issue 19's first Must show: an NVMe/TCP volume attached through Hitch's APIs with two
   * portals, one dropped by nftables, against the healthy path (one portal) through the same API.
   */
  'nvme-api-dead-portal': {
    run: async (ctx) => {
      const target = new NvmetTarget();
      await target.reset();
      const healthy = await throughApi(ctx, ['127.0.0.1:4420'], false);
      await target.reset();
      const dead = await throughApi(ctx, ['127.0.0.1:4420', '127.0.0.2:4420'], true);
      await target.reset();
      const kernel = (await sh('uname', ['-r'])).stdout.trim();
      return { kernel, healthy, dead };
    },
  },
};
