/**
 * What a simulated compute host sees of the rest of the simulation: the clock, the latency
 * model, the network, the arrays (through their portals), the faults, and the event trace.
 * `Simulation` implements it; the host and command models depend only on this.
 */
import type { SimLun, SimTarget, StorageArray } from './array.ts';
import type { VirtualClock } from './clock.ts';
import type { FaultSet } from './faults.ts';
import type { LatencyModel } from './latency.ts';
import type { Network } from './network.ts';
import type { SimSubsystem } from './nvme-subsystem.ts';

export interface TargetAtPortal {
  readonly array: StorageArray;
  readonly target: SimTarget;
}

export interface SubsystemAtPortal {
  readonly array: StorageArray;
  readonly subsystem: SimSubsystem;
}

export interface SimWorld {
  readonly clock: VirtualClock;
  readonly latency: LatencyModel;
  readonly network: Network;
  readonly faults: FaultSet;
  /** The target `iqn` as served on `portal`, if any array serves it there. */
  findTarget(iqn: string, portal: string): TargetAtPortal | undefined;
  /** The NVMe subsystem `nqn` as served on `portal`, if any array serves it there. */
  findSubsystem(nqn: string, portal: string): SubsystemAtPortal | undefined;
  /** Every target served on `portal` (SendTargets). */
  targetsAt(portal: string): TargetAtPortal[];
  /** Whether any array listens on `portal` at all (nobody listening = packets vanish). */
  portalServed(portal: string): boolean;
  /** The LUNs of `target` that `initiator` may see. */
  visibleLuns(found: TargetAtPortal, initiator: string): SimLun[];
  /** Append a line to the simulation-wide event trace. */
  event(host: string, text: string): void;
}

/** Sleep on the virtual clock; a non-finite `ms` waits for the abort signal only. */
export function simSleep(world: SimWorld, ms: number, signal?: AbortSignal): Promise<void> {
  if (Number.isFinite(ms)) return world.clock.sleep(ms, signal);
  return world.clock.sleep(Number.MAX_SAFE_INTEGER / 2, signal);
}
