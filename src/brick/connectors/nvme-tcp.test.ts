/**
 * The NVMe/TCP connector's behaviour on a scripted host whose `nvme` answers and sysfs follow
 * what Linux 6.1 and nvme-cli 2.3 did in the storage host guest (src/sim/testdata/nvme/):
 * a live portal makes controller nvmeK in subsystem nvme-subsys0 with the head nvme0n<nsid>
 * and udev's `nvme-uuid.<uuid>` link; a dropped portal's connect fails after the kernel's TCP
 * connect timeout (≈ 7.5 s) with "could not add new controller"; `nvme disconnect -d` removes
 * the controller, and the subsystem goes with its last one. Virtual time: nothing waits for real.
 */
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import type { ExecResult } from '../../ports/host.ts';
import { VirtualClock } from '../../sim/clock.ts';
import { ScriptedHost, fail, ok } from '../../test-support/scripted-host.ts';
import { Trace } from '../../trace/span.ts';
import { Brick, parseConnectionInfo } from '../index.ts';

const NQN = 'nqn.2014-08.org.hitch:shared';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:953bb2c0-fa23-49c7-8cc1-a085d72b6dfe';
const UUIDS = ['3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f601', '3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f602'];
const SUB = '/sys/class/nvme-subsystem/nvme-subsys0';
const CONNECT_MS = 40;
const DEAD_MS = 7_500;

function kernel(dead: ReadonlySet<string>) {
  const clock = new VirtualClock();
  let next = 0;
  const ctrls = new Map<string, string>(); // nvmeK → address
  const host: ScriptedHost = new ScriptedHost(
    async (cmd, args): Promise<ExecResult | undefined> => {
      if (cmd === 'blockdev') return ok();
      if (cmd === 'multipathd') return ok('path checker states:\n');
      if (cmd === 'systool') return fail(1, 'Error opening class fc_host\n');
      if (cmd !== 'nvme') return undefined;
      if (args[0] === 'connect') {
        const addr = args[args.indexOf('-a') + 1] ?? '';
        const port = args[args.indexOf('-s') + 1] ?? '';
        if (dead.has(addr)) {
          await clock.sleep(DEAD_MS);
          return fail(1, 'Failed to write to /dev/nvme-fabrics: Connection timed out\ncould not add new controller: failed to write to nvme-fabrics device\n');
        }
        await clock.sleep(CONNECT_MS);
        const address = `traddr=${addr},trsvcid=${port},src_addr=127.0.0.1`;
        if ([...ctrls.values()].includes(address)) return fail(1, 'already connected\n');
        const c = `nvme${next++}`;
        ctrls.set(c, address);
        const f = host.files;
        f.set(`${SUB}/subsysnqn`, `${NQN}\n`);
        f.set(`${SUB}/${c}`, `../../nvme-fabrics/ctl/${c}`);
        for (const [k, v] of [['state', 'live'], ['address', address], ['transport', 'tcp']]) f.set(`/sys/class/nvme/${c}/${k}`, `${v}\n`);
        UUIDS.forEach((u, i) => {
          const head = `nvme0n${i + 1}`;
          f.set(`${SUB}/${head}/uuid`, `${u}\n`);
          for (const [k, v] of [['uuid', u], ['nguid', '00000000-0000-0000-0000-000000000000'], ['nsid', String(i + 1)], ['ro', '0']]) f.set(`/sys/block/${head}/${k}`, `${v}\n`);
          f.set(`/dev/disk/by-id/nvme-uuid.${u}`, `../../${head}`);
        });
        return ok();
      }
      if (args[0] === 'disconnect' && args[1] === '-d') {
        const c = args[2] ?? '';
        ctrls.delete(c);
        for (const k of [...host.files.keys()]) if (k.startsWith(`/sys/class/nvme/${c}/`) || k === `${SUB}/${c}`) host.files.delete(k);
        if (ctrls.size === 0) {
          for (const k of [...host.files.keys()]) if (k.startsWith(`${SUB}/`) || k.startsWith('/sys/block/nvme') || k.startsWith('/dev/disk/by-id/nvme-')) host.files.delete(k);
        }
        return ok();
      }
      return undefined;
    },
    {
      clock,
      files: {
        '/etc/nvme/hostnqn': `${HOSTNQN}\n`,
        '/etc/nvme/hostid': '78bdde83-869e-4852-9160-bfbf656404b5\n',
        '/sys/module/nvme_core/parameters/multipath': 'Y\n',
      },
    },
  );
  const logs: string[] = [];
  const brick = new Brick({ host, ip: '10.0.0.5', multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`) });
  const span = new Trace(clock).root();
  return { host, clock, brick, span, logs, ctrls };
}

const info = (uuid: string, addrs = ['192.168.1.59', '192.168.1.60']) =>
  parseConnectionInfo({ driver_volume_type: 'nvmeof', data: { target_nqn: NQN, vol_uuid: uuid, portals: addrs.map((a) => [a, '4420', 'tcp']) } });

const nvmeCommands = (h: ScriptedHost): string[] => h.calls.filter((c) => c.cmd === 'nvme').map((c) => `${c.args[0]} ${c.args[0] === 'connect' ? c.args[c.args.indexOf('-a') + 1] : c.args.slice(2).join(' ')} @${c.atMs}`);

describe('NVMe/TCP connector (scripted Linux 6.1 host)', () => {
  it('reports the host NQN, host id and native multipath in the connector properties', async () => {
    const k = kernel(new Set());
    const p = await k.brick.connectorProperties(k.span);
    expect(p).toMatchObject({ nqn: HOSTNQN, uuid: '78bdde83-869e-4852-9160-bfbf656404b5', nvme_native_multipath: true });
  });

  it('one portal dropped: every portal connects at once, the head returns at the live portal\'s time, the dead one fails in the background, nothing left', async () => {
    const k = kernel(new Set(['192.168.1.60']));
    const ci = info(UUIDS[0] ?? '');
    const a = await k.brick.connect(ci, k.span, { instance: 'i-1' });
    expect(k.clock.now()).toBe(CONNECT_MS);
    expect(a.deviceInfo).toEqual({ type: 'block', path: '/dev/nvme0n1', nvme_ns: UUIDS[0] });
    expect(a.source).toEqual({ kind: 'block', path: `/dev/disk/by-id/nvme-uuid.${UUIDS[0]}` });
    expect(nvmeCommands(k.host)).toEqual(['connect 192.168.1.59 @0', 'connect 192.168.1.60 @0']);
    expect(k.host.calls.find((c) => c.cmd === 'nvme')?.args).toContain(HOSTNQN);
    await k.brick.settled();
    expect(k.clock.now()).toBe(DEAD_MS);
    expect(k.logs.some((l) => /^warning nvme connect to 192\.168\.1\.60:4420 .* could not add new controller/.test(l))).toBe(true);
    await k.brick.disconnect(ci, a.deviceInfo, k.span, { force: false });
    expect(nvmeCommands(k.host).slice(2)).toEqual([`disconnect nvme0 @${DEAD_MS}`]);
    expect([...k.host.files.keys()].filter((f) => /nvme-subsys|\/sys\/class\/nvme\/|by-id\/nvme/.test(f))).toEqual([]);
  });

  it('a detach while the dead portal is still connecting waits for it, so nothing it makes is left', async () => {
    const k = kernel(new Set(['192.168.1.60']));
    const ci = info(UUIDS[0] ?? '');
    const a = await k.brick.connect(ci, k.span, { instance: 'i-1' });
    await k.brick.disconnect(ci, a.deviceInfo, k.span, { force: false });
    expect(k.ctrls.size).toBe(0);
    expect(k.host.files.has(`${SUB}/subsysnqn`)).toBe(false);
  });

  it('two volumes on one subsystem share its controllers: the second connect runs no command; detaching one keeps them for the other', async () => {
    const k = kernel(new Set());
    const [ua = '', ub = ''] = UUIDS;
    const a = await k.brick.connect(info(ua), k.span, { instance: 'i-1' });
    await k.brick.settled();
    const before = k.host.calls.length;
    const b = await k.brick.connect(info(ub), k.span, { instance: 'i-1' });
    expect(b.deviceInfo).toMatchObject({ path: '/dev/nvme0n2' });
    expect(k.host.calls.slice(before).filter((c) => c.cmd === 'nvme')).toEqual([]);
    await k.brick.disconnect(info(ua), a.deviceInfo, k.span, { force: false });
    expect(k.ctrls.size).toBe(2);
    expect(k.logs.some((l) => l.includes(`Keeping the controllers of ${NQN}: namespace(s) ${ub} still attached`))).toBe(true);
    await k.brick.disconnect(info(ub), b.deviceInfo, k.span, { force: false });
    expect(k.ctrls.size).toBe(0);
    expect(nvmeCommands(k.host).filter((c) => c.startsWith('disconnect')).map((c) => c.split(' @')[0])).toEqual(['disconnect nvme0', 'disconnect nvme1']);
  });

  it('every portal dead: HITCH_NVME_CONNECT_FAILED naming the subsystem, each portal and the host NQN; nothing left', async () => {
    const k = kernel(new Set(['192.168.1.59', '192.168.1.60']));
    const err: unknown = await k.brick.connect(info(UUIDS[0] ?? ''), k.span, { instance: 'i-1' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_NVME_CONNECT_FAILED')).toBe(true);
    const text = String(err instanceof Error ? err.message : err);
    expect(text).toContain(NQN);
    expect(text).toContain('192.168.1.59:4420');
    expect(text).toContain('192.168.1.60:4420');
    expect(text).toContain(HOSTNQN);
    expect(k.clock.now()).toBe(DEAD_MS);
    expect(k.ctrls.size).toBe(0);
  });

  it('a namespace the subsystem does not have: HITCH_NVME_NAMESPACE_NOT_FOUND, and the controllers it made are disconnected', async () => {
    const k = kernel(new Set());
    const err: unknown = await k.brick.connect(info('3d8f4c2a-5b6e-4f70-8a91-b2c3d4e5f6ff'), k.span, { instance: 'i-1' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_NVME_NAMESPACE_NOT_FOUND')).toBe(true);
    expect(String(err instanceof Error ? err.message : err)).toContain(NQN);
    await k.brick.settled();
    expect(k.ctrls.size).toBe(0);
  });

  it('without a host NQN anywhere: HITCH_NVME_NO_HOST_NQN before any nvme command', async () => {
    const k = kernel(new Set());
    k.host.files.delete('/etc/nvme/hostnqn');
    const err: unknown = await k.brick.connect(info(UUIDS[0] ?? ''), k.span, { instance: 'i-1' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_NVME_NO_HOST_NQN')).toBe(true);
    expect(nvmeCommands(k.host)).toEqual([]);
  });
});
