import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import { createSimHost } from './sim-host.ts';
import { builtinScenarioNames, loadScenario, parseScenario } from './scenario.ts';
import { Simulation } from './simulation.ts';

function invalidWith(fragment: string) {
  return (e: unknown): boolean => isHitchError(e, 'HITCH_SIM_INVALID_SCENARIO') && e.message.includes(fragment);
}

describe('scenarios', () => {
  it('has the built-ins the issue names, and each one builds a simulation', () => {
    const names = builtinScenarioNames();
    for (const n of ['seed', 'seed-with-other-sessions', 'healthy-single', 'healthy-multipath', 'map-never', 'slow-udev', 'eight-portals-three-dead']) expect(names).toContain(n);
    for (const n of names) expect(Simulation.create(n).hostNames().length).toBeGreaterThan(0);
  });

  it('the seed scenario is the seed’s world', () => {
    const sim = Simulation.create('seed');
    expect(sim.hostNames()).toEqual(['newton']);
    expect(sim.host('newton').initiator).toBe('iqn.1993-08.org.debian:01:7cc8838d1c0');
    expect(sim.network.get('192.168.1.59:3260')).toMatchObject({ kind: 'dead', loginTimeoutMs: 120_000 });
    expect(sim.network.get('192.168.1.60:3260').kind).toBe('healthy');
    const exports = sim.inspectArray('cx-apm00150602415');
    expect(exports.map((t) => [t.target, t.portals, t.luns[0]?.lun, t.luns[0]?.wwn])).toEqual([
      ['iqn.1992-04.com.emc:cx.apm00150602415.a0', ['192.168.1.59:3260'], 192, '36006016074e03a008d3cf25b04e2daae'],
      ['iqn.1992-04.com.emc:cx.apm00150602415.b0', ['192.168.1.60:3260'], 192, '36006016074e03a008d3cf25b04e2daae'],
    ]);
    expect(sim.faults.list()).toEqual([{ fault: 'map-never', wwn: '36006016074e03a008d3cf25b04e2daae' }]);
  });

  it('slow-udev: the by-path link comes 5 s after the disk; eight-portals-three-dead: five sessions', async () => {
    const T = 'iqn.2010-10.org.openstack:volume-0001';
    const slow = createSimHost('slow-udev');
    await slow.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await slow.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    const t = slow.clock.now();
    expect(await slow.waitForPath(`/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-${T}-lun-1`, { timeoutMs: 10_000 })).toBe(true);
    expect(slow.clock.now() - t).toBe(5_000);

    const eight = createSimHost('eight-portals-three-dead');
    await eight.exec('iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', '192.0.2.21:3260']);
    const r = await eight.exec('iscsiadm', ['-m', 'node', '-T', T, '--login'], { okCodes: [8], timeoutMs: 200_000 });
    expect(r.stdout.match(/successful\.$/gm)).toHaveLength(5);
    expect(r.stderr.match(/\(8 - connection timed out\)/g)).toHaveLength(3);
    expect(eight.sim.inspectHost('compute-1').sessions.map((x) => x.portal)).toEqual(['192.0.2.21:3260', '192.0.2.23:3260', '192.0.2.24:3260', '192.0.2.26:3260', '192.0.2.28:3260']);
  });

  it('FC HBAs and an NVMe host NQN appear only when a host declares them', async () => {
    const base = loadScenario('healthy-single');
    const h0 = base.hosts[0] as NonNullable<(typeof base.hosts)[number]>;
    const host = createSimHost({
      ...base,
      hosts: [{ ...h0, fcHosts: [{ host: 7, portName: '0x21000024ff3fd8c2', nodeName: '0x20000024ff3fd8c2' }], nvmeHostNqn: 'nqn.2014-08.org.nvmexpress:uuid:1b4e28ba' }],
    });
    const fc = await host.exec('systool', ['-c', 'fc_host', '-v']);
    expect(fc.stdout).toContain('  Class Device = "host7"\n');
    expect(fc.stdout).toContain('    port_name           = "0x21000024ff3fd8c2"\n');
    expect(fc.stdout).toContain('    port_state          = "Online"\n');
    expect((await host.exec('cat', ['/etc/nvme/hostnqn'])).stdout).toBe('nqn.2014-08.org.nvmexpress:uuid:1b4e28ba\n');
    expect(await createSimHost('healthy-single').exists('/sys/class/fc_host')).toBe(false);
  });

  it('an unknown name is HITCH_SIM_UNKNOWN_SCENARIO and lists the known ones', () => {
    expect(() => loadScenario('no-such-scenario')).toThrow(expect.objectContaining({ code: 'HITCH_SIM_UNKNOWN_SCENARIO', message: expect.stringContaining('healthy-multipath') }));
  });

  it('a bad file is HITCH_SIM_INVALID_SCENARIO naming what is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-scenario-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"name": "x", "arrays": [], "hosts": [');
    expect(() => loadScenario(bad)).toThrow(expect.objectContaining({ code: 'HITCH_SIM_INVALID_SCENARIO', message: expect.stringContaining('not valid JSON') }));
    expect(() => loadScenario(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'HITCH_SIM_INVALID_SCENARIO', message: expect.stringContaining('ENOENT') }));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'name: tiny\narrays: []\nhosts:\n  - name: h1\n    initiator: iqn.2000-01.x:h1\n');
    expect(loadScenario(good).hosts[0]?.name).toBe('h1');
  });

  it('checks fields strictly: unknown keys, wrong types, bad portals, WWNs and fault names', () => {
    const base = { name: 's', arrays: [], hosts: [{ name: 'h', initiator: 'iqn.x' }] };
    const cases: Array<[unknown, string]> = [
      [{ ...base, extra: 1 }, 'unknown key "extra"'],
      [{ ...base, hosts: [] }, 'at least one compute host'],
      [{ ...base, hosts: [{ name: 'h' }] }, 'hosts[0].initiator'],
      [{ ...base, portals: { '1.2.3.4:3260': { state: 'sleepy' } } }, 'state must be'],
      [{ ...base, arrays: [{ name: 'a', portals: ['not a portal!'] }] }, 'arrays[0].portals[0]'],
      [{ ...base, arrays: [{ name: 'a', portals: ['1.2.3.4:3260'], targets: [{ iqn: 'iqn.t', portals: ['1.2.3.4'], luns: [{ lun: 1, wwn: 'xyz' }] }] }] }, 'wwn must look like'],
      [{ ...base, faults: [{ fault: 'gremlins' }] }, 'faults[0].fault must be one of'],
      [{ ...base, faults: [{ fault: 'portal-dead' }] }, 'needs a portal'],
      [{ ...base, latency: { udevDelayMs: -1 } }, 'latency.udevDelayMs'],
      [{ ...base, hosts: [{ name: 'h', initiator: 'i', findMultipaths: 'maybe' }] }, 'findMultipaths'],
    ];
    for (const [raw, fragment] of cases) {
      expect(() => parseScenario(JSON.stringify(raw), 'json'), fragment).toThrow(expect.objectContaining({ code: 'HITCH_SIM_INVALID_SCENARIO' }));
      try {
        parseScenario(JSON.stringify(raw), 'json');
      } catch (e) {
        expect(invalidWith(fragment)(e), `${fragment}: ${(e as Error).message}`).toBe(true);
      }
    }
  });
});
