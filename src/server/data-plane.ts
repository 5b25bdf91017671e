/**
 * The data plane behind a cloud: the block storage backend and, per compute host, its Host,
 * initiator library and hypervisor driver. `sim` + `sim` is the simulated world of a scenario
 * (one virtual clock for everything); the real data plane (tgt + libvirt on this Linux host)
 * plugs in here too, so the rest of the composition does not care which it has.
 */
import { Brick } from '../brick/index.ts';
import { HitchError } from '../errors.ts';
import type { Clock, Host } from '../host/host.ts';
import { SimHost } from '../host/sim-host.ts';
import { Simulation } from '../sim/simulation.ts';
import type { HypervisorDriver } from '../virt/driver.ts';
import { SimHypervisor } from '../virt/sim-hypervisor.ts';
import type { VolumeBackend } from '../volume/backend.ts';
import { SimBackend } from '../volume/backends/sim-backend.ts';
import type { HitchConfig } from './config.ts';

export interface DataPlaneHost {
  readonly name: string;
  readonly host: Host;
  readonly clock: Clock;
  readonly brick: Brick;
  /**
   * A new initiator library for this host, as a restarted compute service would have: no memory
   * of what the previous one did (crash-recovery tests use it).
   */
  readonly newBrick: () => Brick;
  readonly hypervisor: HypervisorDriver;
}

export interface DataPlane {
  readonly backend: VolumeBackend;
  readonly hosts: readonly DataPlaneHost[];
  /** The simulation, when the data plane is simulated. */
  readonly sim: Simulation | null;
  /** Stop whatever the data plane started (daemons, watchers). */
  close(): Promise<void>;
}

export async function createDataPlane(cfg: HitchConfig): Promise<DataPlane> {
  if (cfg.backend === 'sim' && cfg.virt === 'sim') return simDataPlane(cfg);
  throw new HitchError('HITCH_INVALID_ARGUMENT', {
    reason: `backend ${cfg.backend} with virt ${cfg.virt} is not available in this build; use --backend sim --virt sim`,
  });
}

function simDataPlane(cfg: HitchConfig): DataPlane {
  const sim = Simulation.create(cfg.scenario, { seed: cfg.seed, autoAdvance: true });
  const backend = new SimBackend({ sim });
  const hosts = sim.hostNames().map((name): DataPlaneHost => {
    const host = new SimHost(sim, name);
    const newBrick = (): Brick => new Brick({ host, ip: sim.host(name).config.ip ?? '127.0.0.1', multipath: true, mode: cfg.attachMode });
    const hypervisor = new SimHypervisor({ clock: sim.clock, blockSourceExists: (p) => host.exists(p) });
    return { name, host, clock: sim.clock, brick: newBrick(), newBrick, hypervisor };
  });
  return { backend, hosts, sim, close: async () => undefined };
}
