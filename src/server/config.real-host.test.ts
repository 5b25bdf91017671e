import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from './config.ts';
import { createDataPlane } from './data-plane.ts';

describe('config for the real data plane', () => {
  it('defaults: one loopback portal, tgtd started by Hitch, qemu:///system, TCG, nothing to boot', () => {
    const c = resolveConfig({}, {});
    expect([c.tgtPortals, c.tgtControlPort, c.tgtStart, c.libvirtUri, c.virtType, c.guestKernel, c.guestInitrd]).toEqual([
      ['127.0.0.1:3260'], 0, true, 'qemu:///system', 'qemu', null, null,
    ]);
    expect(Object.isFrozen(c.tgtPortals)).toBe(true);
  });

  it('reads portals as a list (file) or comma-separated (flag, environment), flags first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-cfg-'));
    try {
      const file = join(dir, 'real.yaml');
      writeFileSync(file, 'tgtPortals: [127.0.0.1:3260, 127.0.0.2:3260]\ntgtStart: false\nguestKernel: /boot/vmlinuz\n');
      expect(resolveConfig({ config: file }, {}).tgtPortals).toEqual(['127.0.0.1:3260', '127.0.0.2:3260']);
      expect(resolveConfig({ config: file }, {}).tgtStart).toBe(false);
      const env = { HITCH_TGT_PORTALS: '127.0.0.3:3260, 127.0.0.4:3261', HITCH_TGT_START: 'yes', HITCH_TGT_CONTROL_PORT: '42' };
      const c = resolveConfig({ config: file }, env);
      expect([c.tgtPortals, c.tgtStart, c.tgtControlPort, c.guestKernel]).toEqual([['127.0.0.3:3260', '127.0.0.4:3261'], true, 42, '/boot/vmlinuz']);
      expect(resolveConfig({ config: file, tgtPortals: '[::1]:3260' }, env).tgtPortals).toEqual(['[::1]:3260']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backend nvmet: its portals from the file, the environment or the default (one loopback portal, NVMe/TCP\'s port)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-cfg-'));
    try {
      expect(resolveConfig({}, {}).nvmetPortals).toEqual(['127.0.0.1:4420']);
      const file = join(dir, 'nvmet.yaml');
      writeFileSync(file, 'backend: nvmet\nnvmetPortals: [127.0.0.1:4420, 127.0.0.2:4420]\n');
      const c = resolveConfig({ config: file }, {});
      expect([c.backend, c.nvmetPortals]).toEqual(['nvmet', ['127.0.0.1:4420', '127.0.0.2:4420']]);
      expect(resolveConfig({ config: file }, { HITCH_NVMET_PORTALS: '127.0.0.3:4420,127.0.0.4:4421' }).nvmetPortals).toEqual(['127.0.0.3:4420', '127.0.0.4:4421']);
      expect(resolveConfig({}, { HITCH_BACKEND: 'nvmet' }).backend).toBe('nvmet');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backend nvmet: a host without the kernel\'s NVMe target stops the start naming the next step; one with it serves from configfs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-cfg-'));
    try {
      const cfg = resolveConfig({ backend: 'nvmet', virt: 'sim', dataDir: dir }, {});
      if (existsSync('/sys/kernel/config/nvmet')) {
        const plane = await createDataPlane(cfg);
        expect(plane.backend.name).toBe('nvmet');
        expect(plane.tgtd).toBeUndefined();
        await plane.close();
      } else {
        await expect(createDataPlane(cfg)).rejects.toThrow(/\/sys\/kernel\/config\/nvmet does not exist .*modprobe nvmet nvmet-tcp/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes where open-iscsi keeps node records from the file or the environment (none: brick\'s default)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hitch-cfg-'));
    try {
      expect(resolveConfig({}, {}).iscsiNodesDir).toBeNull();
      const file = join(dir, 'rhel.yaml');
      writeFileSync(file, 'iscsiNodesDir: /var/lib/iscsi/nodes\n');
      expect(resolveConfig({ config: file }, {}).iscsiNodesDir).toBe('/var/lib/iscsi/nodes');
      expect(resolveConfig({ config: file }, { HITCH_ISCSI_NODES_DIR: '/srv/iscsi/nodes' }).iscsiNodesDir).toBe('/srv/iscsi/nodes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes how long connector properties are reused from the environment (default a minute; 0 as os-brick)', () => {
    expect(resolveConfig({}, {}).connectorPropertiesTtlMs).toBe(60_000);
    expect(resolveConfig({}, { HITCH_CONNECTOR_PROPERTIES_TTL_MS: '0' }).connectorPropertiesTtlMs).toBe(0);
  });

  it.each([
    [{ connectorPropertiesTtlMs: '-1' }, /connectorPropertiesTtlMs: must be an integer from 0 to 86400000/],
    [{ iscsiNodesDir: 'iscsi/nodes' }, /iscsiNodesDir: must be an absolute path/],
    [{ tgtPortals: '127.0.0.1' }, /tgtPortals: "127.0.0.1" is not ip:port/],
    [{ tgtPortals: '127.0.0.1:3260,127.0.0.1:3260' }, /lists a portal twice/],
    [{ tgtPortals: 'host.example:3260' }, /is not ip:port/],
    [{ tgtPortals: '' }, /non-empty list/],
    [{ tgtControlPort: '40000' }, /tgtControlPort: must be an integer from 0 to 32767/],
    [{ tgtStart: 'maybe' }, /tgtStart: must be true or false/],
    [{ nvmetPortals: '127.0.0.1' }, /nvmetPortals: "127.0.0.1" is not ip:port/],
    [{ nvmetPortals: '127.0.0.1:4420,127.0.0.1:4420' }, /nvmetPortals: lists a portal twice/],
    [{ backend: 'lio' }, /backend: must be one of sim, tgt, nvmet/],
    [{ virtType: 'xen' }, /virtType: must be one of qemu, kvm/],
    [{ guestKernel: 'vmlinuz' }, /guestKernel: must be an absolute path/],
  ])('refuses %j', (flags, msg) => {
    expect(() => resolveConfig(flags, {})).toThrow(msg);
  });

  it('refuses the simulated array behind a real hypervisor, naming what works', async () => {
    const cfg = resolveConfig({ backend: 'sim', virt: 'libvirt' }, {});
    await expect(createDataPlane(cfg)).rejects.toThrow(/--backend tgt or nvmet with --virt libvirt, or sim with sim/);
  });
});
