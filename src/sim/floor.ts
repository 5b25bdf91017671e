/**
 * The data-plane floor of a scenario, computed from the scenario's data alone (no simulation
 * is run): what the arrays, network and kernel need to attach a volume with zero software
 * cost. The bench divides Hitch's virtual attach time by it.
 */
import { dataPlaneFloor, latencyModel, type DataPlaneFloor } from './latency.ts';
import { portalKey } from './network.ts';
import type { Scenario } from './scenario.ts';

export interface ScenarioFloorOptions {
  /** Compute host (default: the first). */
  readonly host?: string;
  /** Target IQNs of the volume (default: every target of the scenario exported to the host). */
  readonly targets?: readonly string[];
  /** Portals of the volume, for targets the scenario does not list (a backend creates them). */
  readonly portals?: readonly string[];
  readonly multipath: boolean;
  /** WWN of the volume, to tell whether a WWN-scoped `map-never` fault applies. */
  readonly wwn?: string;
}

/** Pure: same scenario and options, same floor. */
export function scenarioFloor(scenario: Scenario, opts: ScenarioFloorOptions): DataPlaneFloor {
  const host = scenario.hosts.find((h) => h.name === (opts.host ?? scenario.hosts[0]?.name));
  const targets = scenario.arrays.flatMap((a) => a.targets ?? []).filter((t) => (opts.targets ? opts.targets.includes(t.iqn) : (t.acl ?? []).some((c) => c.initiator === host?.initiator)));
  const keys = [...new Set([...(opts.portals ?? []), ...targets.flatMap((t) => t.portals)].map(portalKey))];
  const state = (p: string): { kind: 'healthy' | 'slow' | 'refusing' | 'dead'; latencyMs: number } => {
    const fromFault = [...(scenario.faults ?? [])].reverse().find((f) => f.fault.startsWith('portal-') && f.at === undefined && f.portal !== undefined && portalKey(f.portal) === p);
    if (fromFault) {
      const kind = fromFault.fault === 'portal-dead' ? 'dead' : fromFault.fault === 'portal-refusing' ? 'refusing' : fromFault.fault === 'portal-slow' ? 'slow' : 'healthy';
      return { kind, latencyMs: fromFault.latencyMs ?? 0 };
    }
    const declared = Object.entries(scenario.portals ?? {}).find(([k]) => portalKey(k) === p)?.[1];
    return { kind: declared?.state ?? 'healthy', latencyMs: declared?.latencyMs ?? 0 };
  };
  const wwns = opts.wwn ? [opts.wwn] : targets.flatMap((t) => (t.luns ?? []).map((l) => l.wwn)).filter((w): w is string => w !== undefined);
  const blocked = (scenario.faults ?? []).some(
    (f) => f.at === undefined && f.nth === undefined && (f.host === undefined || f.host === host?.name) && (f.fault === 'multipathd-down' || (f.fault === 'map-never' && (f.wwn === undefined || wwns.includes(f.wwn)))),
  );
  const multipathMap = opts.multipath && (host?.multipathd ?? true) && !blocked;
  return dataPlaneFloor({ latency: latencyModel(scenario.latency), portals: keys.map(state), multipathMap });
}
