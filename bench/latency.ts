/**
 * Figure 1 — attach latency against the data-plane floor, per scenario, in virtual time:
 * Hitch's connect (brick over a SimHost), os-brick 6.1's connect (same scenario, fresh
 * simulation, through the harness), Hitch's whole attach through the cloud's HTTP APIs.
 */
import { Brick, parseConnectionInfo } from '../src/brick/index.ts';
import { createSimHost } from '../src/sim/sim-host.ts';
import { Trace } from '../src/trace/span.ts';
import { volumeIqn } from '../src/volume/backends/iscsi-export.ts';
import { attach, createServer, createVolume, startBenchCloud, volumeStatus } from './lib/cloud.ts';
import { connectionFor } from './lib/scenario-volumes.ts';
import { runOsBrick } from './peers/os-brick-peer.ts';

export interface ScenarioSpec {
  readonly name: string;
  readonly label: string;
  /** Nova's volume_use_multipath for this run (single-portal scenarios attach single path). */
  readonly multipath: boolean;
}

export const LATENCY_SCENARIOS: readonly ScenarioSpec[] = [
  { name: 'healthy-single', label: 'healthy single path', multipath: false },
  { name: 'healthy-multipath', label: 'healthy multipath', multipath: true },
  { name: 'seed', label: "seed: dead portal, map never", multipath: true },
  { name: 'map-never', label: 'multipath map never created', multipath: true },
  { name: 'slow-udev', label: 'slow udev (5 s)', multipath: false },
  { name: 'eight-portals-three-dead', label: '8 portals, 3 dead', multipath: true },
  // The storage host guest's primitives, scaled to this machine (src/sim/fidelity/calibrated.ts).
  { name: 'calibrated', label: 'healthy multipath, calibrated on the guest', multipath: true },
];

export interface LatencyRow {
  readonly scenario: string;
  readonly label: string;
  readonly multipath: boolean;
  /** Data-plane floor of the connect alone: fastest live portal's login + scan + udev (+ map). */
  readonly connectFloorMs: number;
  readonly hitchConnectMs: number | null;
  readonly hitchDevice: string | null;
  readonly hitchError: string | null;
  readonly hitchRatio: number | null;
  /** Commands Hitch had run when the connect returned, and the model's cost of one. */
  readonly hitchCommands: readonly string[];
  readonly commandMs: number;
  readonly hitchSettledMs: number;
  /** When the floor assumes a map that never comes: Hitch's time includes a configured bound. */
  readonly boundedWait: string | null;
  readonly osBrickConnectMs: number | null;
  readonly osBrickDevice: string | null;
  readonly osBrickError: string | null;
  readonly osBrickVsHitch: number | null;
  readonly attachFloorMs: number | null;
  readonly hitchAttachMs: number | null;
  readonly hitchAttachOutcome: string | null;
  readonly hitchAttachRatio: number | null;
}

/** Hitch's connect on a fresh simulation of `spec`. */
export interface HitchConnectResult {
  readonly ms: number | null;
  readonly device: string | null;
  readonly error: string | null;
  readonly floorMs: number;
  readonly mapPossible: boolean;
  /** Until the background portal work (dead portals' cleanup) was done too. */
  readonly settledMs: number;
  /** Commands finished before the connect returned: `start–end command line` (virtual ms). */
  readonly commands: readonly string[];
  /** The model's cost of one command (software time the floor leaves out). */
  readonly commandMs: number;
}

export async function hitchConnect(spec: ScenarioSpec): Promise<HitchConnectResult> {
  const host = createSimHost(spec.name);
  const sim = host.sim;
  const floor = sim.floor({ host: host.name, multipath: spec.multipath });
  const ip = sim.host(host.name).config.ip ?? '127.0.0.1';
  const brick = new Brick({ host, ip, multipath: spec.multipath });
  const trace = new Trace(host.clock);
  const ci = parseConnectionInfo({ driver_volume_type: 'iscsi', data: connectionFor(sim, host.name, { multipath: spec.multipath }) });
  await brick.connectorProperties(trace.root());
  const t0 = host.clock.now();
  const commands: Array<{ line: string; startMs: number; endMs: number }> = [];
  const unsubscribe = host.onExec((r) => commands.push({ line: [r.cmd, ...r.args].join(' '), startMs: r.startMs - t0, endMs: r.endMs - t0 }));
  let device: string | null = null;
  let error: string | null = null;
  let ms: number | null = null;
  try {
    const { deviceInfo: d } = await brick.connect(ci, trace.root(), { instance: 'bench' });
    ms = host.clock.now() - t0;
    device = d.type === 'block' ? d.path : d.name;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  unsubscribe();
  // The commands that had finished when the connect returned: its software cost in the model.
  const before = ms === null ? commands : commands.filter((c) => c.endMs <= (ms as number));
  await brick.settled();
  return {
    ms,
    device,
    error,
    floorMs: floor.pathMs + floor.mapMs,
    mapPossible: floor.mapMs > 0 || !spec.multipath,
    settledMs: host.clock.now() - t0,
    commands: before.map((c) => `${c.startMs}–${c.endMs} ${c.line}`),
    commandMs: sim.latency.commandMs,
  };
}

/** os-brick's connect on a fresh simulation of `spec`. */
export async function osBrickConnect(spec: ScenarioSpec): Promise<{ ms: number | null; device: string | null; error: string | null }> {
  const host = createSimHost(spec.name);
  const ip = host.sim.host(host.name).config.ip ?? '127.0.0.1';
  const data = connectionFor(host.sim, host.name, { multipath: spec.multipath });
  const r = await runOsBrick(host, { multipath: spec.multipath, volumes: [data], ip, host: host.name });
  const c = r.connects[0];
  if (!c) return { ms: null, device: null, error: 'no outcome' };
  return { ms: c.endMs - c.startMs, device: c.device?.['path'] ?? null, error: c.ok ? null : (c.error ?? 'failed') };
}

/** Hitch's whole attach (steps 1–9) through the cloud's APIs, on SQLite. */
export async function hitchWholeAttach(spec: ScenarioSpec): Promise<{ ms: number | null; outcome: string; floorMs: number | null }> {
  let finished: { outcome: string; durationMs: number } | null = null;
  const c = await startBenchCloud({
    scenario: spec.name,
    onFinished: (op) => {
      if (op.kind === 'attach') finished = { outcome: op.outcome, durationMs: op.durationMs };
    },
  });
  try {
    const volumeId = await createVolume(c);
    const serverId = await createServer(c);
    await c.cloud.settle();
    await attach(c, serverId, volumeId);
    await c.cloud.settle();
    const status = await volumeStatus(c, volumeId);
    const sim = c.cloud.sim;
    const hostName = c.cloud.hosts[0]?.name;
    const floor = sim && hostName ? sim.floor({ host: hostName, targets: [volumeIqn(volumeId)], multipath: true }).totalMs : null;
    const f = finished as { outcome: string; durationMs: number } | null;
    return { ms: f ? f.durationMs : null, outcome: `${f?.outcome ?? 'unknown'} (${status})`, floorMs: floor };
  } finally {
    await c.close();
  }
}

export async function measureLatency(spec: ScenarioSpec, opts: { osBrick: boolean; whole: boolean }): Promise<LatencyRow> {
  const h = await hitchConnect(spec);
  const ob = opts.osBrick ? await osBrickConnect(spec) : null;
  const w = opts.whole ? await hitchWholeAttach(spec) : null;
  const ratio = h.ms !== null && Number.isFinite(h.floorMs) && h.floorMs > 0 ? h.ms / h.floorMs : null;
  let boundedWait: string | null = null;
  if (!Number.isFinite(h.floorMs)) boundedWait = 'no live portal: the login timeout';
  else if (spec.multipath && !h.mapPossible) boundedWait = 'map never comes: floor is the single-path floor; Hitch falls back to the path it has';
  return {
    scenario: spec.name,
    label: spec.label,
    multipath: spec.multipath,
    connectFloorMs: h.floorMs,
    hitchConnectMs: h.ms,
    hitchDevice: h.device,
    hitchError: h.error,
    hitchRatio: ratio,
    hitchCommands: h.commands,
    commandMs: h.commandMs,
    hitchSettledMs: h.settledMs,
    boundedWait,
    osBrickConnectMs: ob?.ms ?? null,
    osBrickDevice: ob?.device ?? null,
    osBrickError: ob?.error ?? null,
    osBrickVsHitch: ob?.ms != null && h.ms ? ob.ms / h.ms : null,
    attachFloorMs: w?.floorMs ?? null,
    hitchAttachMs: w?.ms ?? null,
    hitchAttachOutcome: w?.outcome ?? null,
    hitchAttachRatio: w?.ms != null && w.floorMs ? w.ms / w.floorMs : null,
  };
}
