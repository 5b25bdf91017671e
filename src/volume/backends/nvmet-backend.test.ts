import { describe, expect, it } from 'vitest';
import { parseConnectionInfo } from '../../brick/index.ts';
import { isHitchError } from '../../errors.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from '../../host/allowlist.ts';
import { ScriptedHost, ok } from '../../test-support/scripted-host.ts';
import { NVMET_ROOT, NvmetBackend } from './nvmet-backend.ts';

const ID = '132bc10b-6826-4624-9039-370037bf32d9';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:953bb2c0-fa23-49c7-8cc1-a085d72b6dfe';

/** configfs as the kernel keeps it: a mkdir'd directory exists (marked by `.dir`), links are files naming their target. */
function configfs() {
  const host: ScriptedHost = new ScriptedHost(
    (cmd, args) => {
      const path = args[args.length - 1] ?? '';
      if (cmd === 'mkdir') {
        host.files.set(`${path}/.dir`, '');
      } else if (cmd === 'ln') {
        host.files.set(path, args[args.length - 2] ?? '');
      } else if (cmd === 'rm' || cmd === 'rmdir') {
        for (const k of [...host.files.keys()]) if (k === path || k.startsWith(`${path}/`)) host.files.delete(k);
      } else if (cmd === 'truncate') {
        host.files.set(path, '');
      } else {
        return undefined;
      }
      return ok();
    },
    { files: { [`${NVMET_ROOT}/ports/.dir`]: '', [`${NVMET_ROOT}/hosts/.dir`]: '' }, allowedRoots: [...DEFAULT_ALLOWED_ROOTS, '/var/lib/hitch'], allowedBinaries: [...DEFAULT_ALLOWED_BINARIES, 'mkdir', 'rmdir', 'ln', 'rm', 'truncate', 'cp', 'mv', 'df'] },
  );
  const backend = new NvmetBackend({ host, portals: ['192.168.1.59:4420', '192.168.1.60:4420'], lunDir: '/var/lib/hitch/nvmet' });
  return { host, backend };
}

const SUB = `${NVMET_ROOT}/subsystems/nqn.2014-08.org.openstack:volume-${ID}`;

describe('nvmet backend (configfs through the Host port)', () => {
  it('create: a subsystem of its own with the file as namespace 1 (its UUID the volume id), linked into a port per portal, no host allowed', async () => {
    const { host, backend } = configfs();
    const { providerLocation } = await backend.createVolume({ id: ID, size: 2 });
    expect(JSON.parse(providerLocation ?? '{}')).toEqual({ nqn: `nqn.2014-08.org.openstack:volume-${ID}`, nsid: 1, uuid: ID, path: `/var/lib/hitch/nvmet/volume-${ID}.img` });
    expect(host.commands[0]).toBe(`truncate --size 2G -- /var/lib/hitch/nvmet/volume-${ID}.img`);
    expect(host.files.get(`${SUB}/attr_allow_any_host`)).toBe('0');
    expect(host.files.get(`${SUB}/namespaces/1/device_uuid`)).toBe(ID);
    expect(host.files.get(`${SUB}/namespaces/1/enable`)).toBe('1');
    expect([1, 2].map((p) => [host.files.get(`${NVMET_ROOT}/ports/${p}/addr_traddr`), host.files.get(`${NVMET_ROOT}/ports/${p}/addr_trsvcid`), host.files.get(`${NVMET_ROOT}/ports/${p}/addr_trtype`)])).toEqual([
      ['192.168.1.59', '4420', 'tcp'],
      ['192.168.1.60', '4420', 'tcp'],
    ]);
    expect(host.files.get(`${NVMET_ROOT}/ports/2/subsystems/nqn.2014-08.org.openstack:volume-${ID}`)).toBe(SUB);
    // A re-run converges: nothing made twice.
    const n = host.commands.length;
    await backend.createVolume({ id: ID, size: 2 });
    expect(host.commands.slice(n)).toEqual([]);
  });

  it("initialize: allows the connector's host NQN and answers os-brick's nvmeof shape, which brick accepts", async () => {
    const { host, backend } = configfs();
    const { providerLocation } = await backend.createVolume({ id: ID, size: 1 });
    const vol = { id: ID, size: 1, providerLocation };
    const multi = await backend.initializeConnection(vol, { nqn: HOSTNQN, multipath: true });
    expect(multi).toEqual({
      driver_volume_type: 'nvmeof',
      data: {
        target_nqn: `nqn.2014-08.org.openstack:volume-${ID}`,
        vol_uuid: ID,
        portals: [
          ['192.168.1.59', '4420', 'tcp'],
          ['192.168.1.60', '4420', 'tcp'],
        ],
        host_nqn: HOSTNQN,
        volume_id: ID,
        access_mode: 'rw',
        discard: true,
        qos_specs: null,
      },
    });
    expect(parseConnectionInfo(JSON.parse(JSON.stringify(multi)))).toEqual(multi);
    expect(host.files.get(`${SUB}/allowed_hosts/${HOSTNQN}`)).toBe(`${NVMET_ROOT}/hosts/${HOSTNQN}`);
    const single = await backend.initializeConnection(vol, { nqn: HOSTNQN, multipath: false });
    expect(single.driver_volume_type === 'nvmeof' && single.data.portals).toEqual([['192.168.1.59', '4420', 'tcp']]);
    const err: unknown = await backend.initializeConnection(vol, { initiator: 'iqn.1993-08.org.debian:01:x', multipath: true }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_INVALID_INPUT')).toBe(true);
  });

  it('survives a restart: a new backend over the same configfs makes nothing twice and answers the same; after the target lost configfs (a reboot) the next initialize rebuilds the in-use namespace from provider_location', async () => {
    const { host, backend } = configfs();
    const { providerLocation } = await backend.createVolume({ id: ID, size: 1 });
    const vol = { id: ID, size: 1, providerLocation };
    const before = await backend.initializeConnection(vol, { nqn: HOSTNQN, multipath: true });
    // Hitch restarts: a new backend, nothing in memory; configfs (the kernel's) is as it was.
    const again = new NvmetBackend({ host, portals: ['192.168.1.59:4420', '192.168.1.60:4420'], lunDir: '/var/lib/hitch/nvmet' });
    const n = host.commands.length;
    expect(await again.initializeConnection(vol, { nqn: HOSTNQN, multipath: true })).toEqual(before);
    expect(host.commands.slice(n)).toEqual([]);
    // The target host rebooted: configfs is empty, the namespace's file is still there.
    for (const k of [...host.files.keys()]) if (k.startsWith(`${NVMET_ROOT}/subsystems/`) || k.startsWith(`${NVMET_ROOT}/ports/`) || k.startsWith(`${NVMET_ROOT}/hosts/`)) host.files.delete(k);
    host.files.set(`${NVMET_ROOT}/ports/.dir`, '');
    host.files.set(`${NVMET_ROOT}/hosts/.dir`, '');
    const rebuilt = await again.initializeConnection(vol, { nqn: HOSTNQN, multipath: true });
    expect(rebuilt).toEqual(before);
    expect(host.files.get(`${SUB}/namespaces/1/device_uuid`)).toBe(ID);
    expect(host.files.get(`${SUB}/namespaces/1/device_path`)).toBe(`/var/lib/hitch/nvmet/volume-${ID}.img`);
    expect(host.files.get(`${SUB}/namespaces/1/enable`)).toBe('1');
    expect(host.files.get(`${SUB}/allowed_hosts/${HOSTNQN}`)).toBe(`${NVMET_ROOT}/hosts/${HOSTNQN}`);
    expect(host.files.get(`${NVMET_ROOT}/ports/1/subsystems/nqn.2014-08.org.openstack:volume-${ID}`)).toBe(SUB);
    // The data file is never made again (that would empty the volume).
    expect(host.commands.filter((c) => c.startsWith('truncate'))).toHaveLength(1);
  });

  it('terminate revokes that host; delete removes the subsystem, its port links and its file', async () => {
    const { host, backend } = configfs();
    const { providerLocation } = await backend.createVolume({ id: ID, size: 1 });
    const vol = { id: ID, size: 1, providerLocation };
    await backend.initializeConnection(vol, { nqn: HOSTNQN, multipath: true });
    await backend.terminateConnection(vol, { nqn: HOSTNQN, multipath: true });
    expect(host.files.has(`${SUB}/allowed_hosts/${HOSTNQN}`)).toBe(false);
    await backend.deleteVolume(vol);
    expect([...host.files.keys()].filter((k) => k.includes(ID))).toEqual([]);
    expect(host.commands.at(-1)).toBe(`rm -f -- /var/lib/hitch/nvmet/volume-${ID}.img`);
    await backend.deleteVolume(vol);
  });
});
