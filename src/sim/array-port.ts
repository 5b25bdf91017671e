/**
 * The few array operations the volume service's `sim` backend needs, as an async port, so the
 * backend drives a simulation in this process (`localArrays`) or one behind the simulator
 * daemon (`SimClient.arrays()` in `remote/client.ts`) the same way.
 */
import type { AllowOptions } from './array.ts';
import type { Simulation } from './simulation.ts';

export interface SimTargetInfo {
  readonly portals: readonly string[];
  /** Initiators the target is exported to. */
  readonly initiators: readonly string[];
}

export interface SimArrays {
  /** The arrays' names, in scenario order (the first is the default). */
  arrayNames(): readonly string[];
  createTarget(array: string, iqn: string): Promise<void>;
  addLun(array: string, iqn: string, opts: { lun: number; sizeBytes: number; wwn?: string }): Promise<{ lun: number; wwn: string }>;
  deleteTarget(array: string, iqn: string): Promise<void>;
  /** `null` when the array has no such target (throws for an unknown array). */
  target(array: string, iqn: string): Promise<SimTargetInfo | null>;
  /**
   * Export to an initiator, spending the array's export time on the virtual clock, and say what
   * the target is now; `null`, with nothing exported and no time spent, when the array has no
   * such target. One call for what `initialize_connection` needs (the backend looked the target
   * up, then exported it: two round trips to the simulator daemon per attach).
   */
  exportTo(array: string, iqn: string, initiator: string, opts: AllowOptions): Promise<SimTargetInfo | null>;
  denyInitiator(array: string, iqn: string, initiator: string): Promise<void>;
}

/** The port over a simulation in this process. */
export function localArrays(sim: Simulation): SimArrays {
  return {
    arrayNames: () => sim.arrays().map((a) => a.name),
    createTarget: async (array, iqn) => void sim.array(array).createTarget(iqn),
    addLun: async (array, iqn, opts) => {
      const l = sim.array(array).addLun(iqn, opts);
      return { lun: l.lun, wwn: l.wwn };
    },
    deleteTarget: async (array, iqn) => sim.array(array).deleteTarget(iqn),
    target: async (array, iqn) => targetInfo(sim, array, iqn),
    exportTo: (array, iqn, initiator, opts) => exportAndDescribe(sim, array, iqn, initiator, opts),
    denyInitiator: async (array, iqn, initiator) => sim.array(array).denyInitiator(iqn, initiator),
  };
}

/** What the port says of a target; null when the array has no such target (throws for an unknown array). */
export function targetInfo(sim: Simulation, array: string, iqn: string): SimTargetInfo | null {
  const t = sim.array(array).target(iqn);
  return t ? { portals: [...t.portals], initiators: [...t.acls.keys()] } : null;
}

/** `SimArrays.exportTo` over a simulation, for the in-process port and the daemon alike. */
export async function exportAndDescribe(sim: Simulation, array: string, iqn: string, initiator: string, opts: AllowOptions, signal?: AbortSignal): Promise<SimTargetInfo | null> {
  if (targetInfo(sim, array, iqn) === null) return null;
  await sim.exportTo(array, iqn, initiator, opts, signal);
  return targetInfo(sim, array, iqn);
}
