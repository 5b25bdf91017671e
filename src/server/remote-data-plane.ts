/**
 * The `remote` data plane: the world of a simulator daemon (`hitch sim serve --socket PATH`,
 * `src/sim/remote/`), reached over its unix socket. The daemon's arrays, compute hosts' kernels
 * and hypervisors outlive this process — a SIGKILLed server restarts into the world it left —
 * and are shared by every process that connects (API servers, agents).
 */
import { Brick } from '../brick/index.ts';
import { HitchError } from '../errors.ts';
import { SimClient } from '../sim/remote/client.ts';
import { SimBackend } from '../sim/sim-backend.ts';
import type { HitchConfig } from './config.ts';
import type { DataPlane, DataPlaneHost } from './data-plane.ts';

export async function remoteDataPlane(cfg: HitchConfig): Promise<DataPlane> {
  if (cfg.simSocket === null) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'config simSocket: the remote data plane needs the simulator\'s socket' });
  if (cfg.backend !== 'sim' || cfg.virt !== 'sim') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `config simSocket: the simulator serves backend sim and virt sim, not ${cfg.backend} + ${cfg.virt}` });
  }
  const client = await SimClient.connect(cfg.simSocket);
  // Start from the daemon's time, not 0: spans of this process line up with the world's.
  await client.clock.fetch();
  const backend = new SimBackend({ arrays: client.arrays() });
  const hosts = client.info.hosts.map(({ name, ip }): DataPlaneHost => {
    const host = client.host(name);
    // The daemon does not say where its hosts keep node records: the configuration does (default Debian's).
    const newBrick = (): Brick => new Brick({ host, ip, multipath: true, mode: cfg.attachMode, connectorPropertiesTtlMs: cfg.connectorPropertiesTtlMs, ...(cfg.iscsiNodesDir ? { iscsiNodesDir: cfg.iscsiNodesDir } : {}) });
    return { name, host, clock: client.clock, brick: newBrick(), newBrick, hypervisor: client.hypervisor(name), ip };
  });
  return { backend, hosts, sim: null, simClient: client, close: () => client.close() };
}
