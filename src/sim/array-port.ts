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
  /** Export to an initiator, spending the array's export time on the virtual clock. */
  exportTo(array: string, iqn: string, initiator: string, opts: AllowOptions): Promise<void>;
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
    target: async (array, iqn) => {
      const t = sim.array(array).target(iqn);
      return t ? { portals: [...t.portals], initiators: [...t.acls.keys()] } : null;
    },
    exportTo: (array, iqn, initiator, opts) => sim.exportTo(array, iqn, initiator, opts),
    denyInitiator: async (array, iqn, initiator) => sim.array(array).denyInitiator(iqn, initiator),
  };
}
