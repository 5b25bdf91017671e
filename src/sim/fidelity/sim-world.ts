/**
 * The fidelity scenes' world on the simulator: a simulation built to match the storage host guest
 * (tgt on every loopback address at port 3260, LIO at 127.0.0.1 and 127.0.0.2 port 3262, nothing
 * at 127.0.0.1:3261, the guest's initiator name, multipathd with the scene's find_multipaths,
 * iscsid.conf with the scene's login timeouts), and the environment's levers as the simulator
 * pulls them (a dropped portal is `portal-dead`, udev's held queue and an open device are the
 * model's own).
 */
import { createSimHost, type SimHost } from '../sim-host.ts';
import type { Scenario } from '../scenario.ts';
import { LIO_IQN, LIO_P1, LIO_P2, LIO_SERIAL, LUN_BYTES, NVME_NAMESPACES, NVME_NQN, NVME_P1, NVME_P2, NVME_REFUSED, NVME_SERIAL, P1, P2, REFUSED, TGT_IQN, type FidelityWorld, type SceneSetup } from './scenes.ts';

export const GUEST_INITIATOR = 'iqn.1993-08.org.debian:01:hitch-storage-host';
export const GUEST_HOST = 'hitch-storage-host';
/** The guest image's NVMe host NQN and host id (`/etc/nvme/hostnqn`, `hostid`: made when the image was built). */
export const GUEST_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:953bb2c0-fa23-49c7-8cc1-a085d72b6dfe';
export const GUEST_HOSTID = '78bdde83-869e-4852-9160-bfbf656404b5';

export function fidelityScenario(setup: SceneSetup): Scenario {
  const acl = [{ initiator: GUEST_INITIATOR }];
  const tgtAcl = setup.chap ? [{ initiator: GUEST_INITIATOR, chapUser: setup.chap.username, chapPassword: setup.chap.password }] : acl;
  return {
    name: 'fidelity',
    description: 'The storage host guest as the fidelity suite sets it up (src/sim/fidelity/).',
    seed: 1,
    latency: { loginRetryTimeoutMs: setup.login.loginTimeoutS * 1000, loginRetries: setup.login.retryMax },
    portals: {
      [P1]: { state: 'healthy' },
      [P2]: { state: 'healthy' },
      [REFUSED]: { state: 'refusing' },
      ...(setup.nvme ? { [NVME_P1]: { state: 'healthy' as const }, [NVME_P2]: { state: 'healthy' as const }, [NVME_REFUSED]: { state: 'refusing' as const } } : {}),
    },
    arrays: [
      {
        name: 'tgt',
        kind: 'tgt',
        portals: [P1, P2],
        vendor: 'IET',
        model: 'VIRTUAL-DISK',
        targets: [{ iqn: TGT_IQN, tpgt: 1, portals: [P1, P2], luns: [{ lun: 1, sizeBytes: LUN_BYTES }], acl: tgtAcl }],
      },
      ...(setup.lio
        ? [{ name: 'lio', kind: 'lio' as const, portals: [LIO_P1, LIO_P2], vendor: 'LIO-ORG', model: 'FILEIO', targets: [{ iqn: LIO_IQN, tpgt: 1, portals: [LIO_P1, LIO_P2], luns: [{ lun: 1, serial: LIO_SERIAL, sizeBytes: LUN_BYTES }], acl }] }]
        : []),
      ...(setup.nvme
        ? [
            {
              name: 'nvmet',
              portals: [NVME_P1, NVME_P2],
              subsystems: [{ nqn: NVME_NQN, serial: NVME_SERIAL, allowAnyHost: true, namespaces: NVME_NAMESPACES.map((n) => ({ nsid: n.nsid, uuid: n.uuid, sizeBytes: n.bytes })) }],
            },
          ]
        : []),
    ],
    hosts: [
      {
        name: GUEST_HOST,
        initiator: GUEST_INITIATOR,
        ip: '127.0.0.1',
        multipathd: setup.findMultipaths !== null,
        findMultipaths: setup.findMultipaths ?? 'no',
        firstScsiHost: 0,
        localDisks: [{ name: 'vda', sizeBytes: 2 * 1024 ** 3 }],
        ...(setup.nvme ? { nvmeHostNqn: GUEST_HOSTNQN, nvmeHostId: GUEST_HOSTID } : {}),
      },
    ],
    ...(setup.blacklistAll ? { faults: [{ fault: 'map-never' as const }] } : {}),
  };
}

/** A fresh simulation for one scene, and its world. */
export function simWorld(setup: SceneSetup): FidelityWorld & { readonly sim: SimHost } {
  const host = createSimHost(fidelityScenario(setup));
  const sim = host.sim;
  // The guest's iscsid.conf: Debian's, with the scene's two login settings moved to its end
  // (src/test-support/storage-host/guest/storage.ts rewrites them there).
  const conf = host.model.vfs.read('/etc/iscsi/iscsid.conf').split('\n');
  const login = /^node\.(conn\[0\]\.timeo\.login_timeout|session\.initial_login_retry_max) = /;
  host.model.vfs.writeText('/etc/iscsi/iscsid.conf', [...conf.filter((l) => l !== '' && !login.test(l)), ...conf.filter((l) => login.test(l)), ''].join('\n'));
  return {
    host,
    sim: host,
    settle: () => host.clock.sleep(5_000),
    dropPortal: async (ip) => sim.injectFault({ fault: 'portal-dead', portal: `${ip}:3260` }),
    dropNvmePortal: async (ip) => sim.injectFault({ fault: 'portal-dead', portal: `${ip}:4420` }),
    liftDrop: async () => {
      for (const p of [P1, P2, NVME_P1, NVME_P2]) if (sim.network.get(p).kind === 'dead') sim.injectFault({ fault: 'portal-healthy', portal: p });
    },
    holdUdev: async () => host.model.udev.hold(),
    releaseUdev: async () => host.model.udev.release(),
    loginAttempts: async (ip) => host.model.iscsid.lostSyns(`${ip}:3260`),
    holdOpen: async (dev) => {
      const close = host.model.open(dev);
      return async () => close();
    },
  };
}
