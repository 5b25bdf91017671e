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

/** An NVMe subsystem as the port describes it. */
export interface SimSubsystemInfo {
  readonly portals: readonly string[];
  /** Host NQNs admitted. */
  readonly hosts: readonly string[];
}

/** The NVMe/TCP side of the arrays (subsystems and admitted hosts), for the backend's `nvmeof` volumes. */
export interface SimNvmeArrays {
  createSubsystem(array: string, nqn: string): Promise<void>;
  addNamespace(array: string, nqn: string, opts: { nsid: number; uuid: string; sizeBytes: number }): Promise<void>;
  deleteSubsystem(array: string, nqn: string): Promise<void>;
  /** `null` when the array has no such subsystem. */
  subsystem(array: string, nqn: string): Promise<SimSubsystemInfo | null>;
  /** Admit a host NQN, spending the array's export time; `null` (nothing done) when there is no such subsystem. */
  allowHost(array: string, nqn: string, hostNqn: string): Promise<SimSubsystemInfo | null>;
  denyHost(array: string, nqn: string, hostNqn: string): Promise<void>;
}

export interface SimArrays {
  /**
   * What the backend exports new volumes of `array` over (the scenario's `protocol`): `iscsi`
   * by default.
   */
  protocolOf?(array: string): 'iscsi' | 'nvmeof';
  /** The NVMe/TCP side; absent where the arrays are reached through the simulator daemon (it has no NVMe calls). */
  readonly nvme?: SimNvmeArrays;
  /** The arrays' names, in scenario order (the first is the default). */
  arrayNames(): readonly string[];
  createTarget(array: string, iqn: string): Promise<void>;
  addLun(array: string, iqn: string, opts: { lun: number; sizeBytes: number; wwn?: string }): Promise<{ lun: number; wwn: string }>;
  /** Grow a LUN (the `sim` backend's extend). */
  resizeLun(array: string, iqn: string, lun: number, sizeBytes: number): Promise<void>;
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
    resizeLun: async (array, iqn, lun, sizeBytes) => void sim.array(array).resizeLun(iqn, lun, sizeBytes),
    deleteTarget: async (array, iqn) => sim.array(array).deleteTarget(iqn),
    target: async (array, iqn) => targetInfo(sim, array, iqn),
    exportTo: (array, iqn, initiator, opts) => exportAndDescribe(sim, array, iqn, initiator, opts),
    denyInitiator: async (array, iqn, initiator) => sim.array(array).denyInitiator(iqn, initiator),
    protocolOf: (array) => sim.scenario.arrays.find((a) => a.name === array)?.protocol ?? 'iscsi',
    nvme: {
      createSubsystem: async (array, nqn) => void sim.array(array).nvme.create(nqn),
      addNamespace: async (array, nqn, opts) => void sim.array(array).nvme.addNamespace(nqn, opts),
      deleteSubsystem: async (array, nqn) => sim.array(array).nvme.delete(nqn),
      subsystem: async (array, nqn) => subsystemInfo(sim, array, nqn),
      allowHost: async (array, nqn, hostNqn) => {
        if (subsystemInfo(sim, array, nqn) === null) return null;
        await sim.clock.sleep(sim.latency.arrayExportMs);
        sim.array(array).nvme.allowHost(nqn, hostNqn);
        return subsystemInfo(sim, array, nqn);
      },
      denyHost: async (array, nqn, hostNqn) => sim.array(array).nvme.denyHost(nqn, hostNqn),
    },
  };
}

function subsystemInfo(sim: Simulation, array: string, nqn: string): SimSubsystemInfo | null {
  const s = sim.array(array).nvme.get(nqn);
  return s ? { portals: [...s.portals], hosts: [...s.hosts] } : null;
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
