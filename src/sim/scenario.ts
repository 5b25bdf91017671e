/**
 * Scenarios are data: hosts, arrays, portals, faults and the latency model, as a JSON or YAML
 * file, so the same scenario can be replayed by Hitch, by the bench and by other initiators.
 * Built-in scenarios live in `scenarios/` and are loaded by name (`seed`, `healthy-multipath`…).
 *
 * Validation is by hand and strict: an unknown key or a wrong type is an error that names the
 * field (`HITCH_SIM_INVALID_SCENARIO`), because a typo in a fault would otherwise silently
 * test the happy path.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { HitchError } from '../errors.ts';
import type { ArrayKind } from './array.ts';
import { validateFault, type FaultSpec } from './faults.ts';
import { DEFAULT_LATENCY, type LatencyModel, type PortalKind } from './latency.ts';
import type { FindMultipaths } from './multipath-model.ts';
import { portalKey } from './network.ts';

export interface ScenarioLun {
  readonly lun: number;
  readonly wwn?: string;
  /** An `lio` array's unit serial for it (the WWN is made of it). */
  readonly serial?: string;
  readonly sizeBytes?: number;
  readonly readOnly?: boolean;
}

export interface ScenarioAcl {
  readonly initiator: string;
  readonly chapUser?: string;
  readonly chapPassword?: string;
  readonly luns?: readonly number[];
}

export interface ScenarioTarget {
  readonly iqn: string;
  readonly tpgt?: number;
  readonly portals: readonly string[];
  readonly luns?: readonly ScenarioLun[];
  readonly acl?: readonly ScenarioAcl[];
}

export interface ScenarioNamespace {
  readonly nsid?: number;
  readonly uuid?: string;
  readonly sizeBytes?: number;
  readonly readOnly?: boolean;
}

/** An NVMe/TCP subsystem the array serves (nvmet's configfs: `nvme-subsystem.ts`). */
export interface ScenarioSubsystem {
  readonly nqn: string;
  /** Default: the array's portals. */
  readonly portals?: readonly string[];
  readonly serial?: string;
  readonly allowAnyHost?: boolean;
  /** Host NQNs admitted. */
  readonly hosts?: readonly string[];
  readonly namespaces?: readonly ScenarioNamespace[];
}

export interface ScenarioArray {
  readonly name: string;
  /** Portals new targets get by default (the backend's `target_portals`). */
  readonly portals: readonly string[];
  /** IEEE company id inside generated WWNs (`006016` for the seed's EMC array). */
  readonly companyId?: string;
  readonly vendor?: string;
  readonly model?: string;
  /** The target software it behaves like (`array.ts` `ArrayKind`); default `generic`. */
  readonly kind?: ArrayKind;
  readonly targets?: readonly ScenarioTarget[];
  readonly subsystems?: readonly ScenarioSubsystem[];
  /**
   * What the `sim` volume backend exports new volumes over from this array: `iscsi` (a target
   * per volume, the default) or `nvmeof` (an NVMe/TCP subsystem per volume, as Cinder's nvmet
   * target does).
   */
  readonly protocol?: 'iscsi' | 'nvmeof';
}

export interface ScenarioHost {
  readonly name: string;
  readonly initiator: string;
  readonly ip?: string;
  readonly multipathd?: boolean;
  readonly findMultipaths?: FindMultipaths;
  readonly firstScsiHost?: number;
  readonly localDisks?: ReadonlyArray<{ name: string; sizeBytes?: number; ro?: boolean }>;
  readonly mounts?: Readonly<Record<string, string>>;
  readonly fcHosts?: ReadonlyArray<{ host: number; portName: string; nodeName: string; portState?: string }>;
  /** The host's NVMe host NQN (`/etc/nvme/hostnqn`); a host with one has the NVMe/TCP initiator loaded. */
  readonly nvmeHostNqn?: string;
  /** `/etc/nvme/hostid`; default the UUID inside the host NQN. */
  readonly nvmeHostId?: string;
  /** `nvme_core.multipath` (default true, Debian's kernel). */
  readonly nvmeNativeMultipath?: boolean;
  /**
   * Where open-iscsi keeps node records on this host: `/etc/iscsi/nodes` (Debian, the default),
   * `/var/lib/iscsi/nodes` (RHEL/Fedora). The directory exists from the start.
   */
  readonly iscsiNodesDir?: string;
  /** iSCSI sessions already logged in at time 0 (with their disks, links and maps). */
  readonly sessions?: ReadonlyArray<{ target: string; portal: string }>;
}

export interface ScenarioPortal {
  readonly state: PortalKind;
  readonly latencyMs?: number;
  readonly loginTimeoutMs?: number;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  /** Default seed; `createSimulation` may override it. */
  readonly seed?: number;
  readonly latency?: Partial<LatencyModel>;
  readonly portals?: Readonly<Record<string, ScenarioPortal>>;
  readonly arrays: readonly ScenarioArray[];
  readonly hosts: readonly ScenarioHost[];
  readonly faults?: readonly FaultSpec[];
}

type Obj = Record<string, unknown>;

function invalid(reason: string): HitchError {
  return new HitchError('HITCH_SIM_INVALID_SCENARIO', { reason });
}

function obj(v: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where} must be an object`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw invalid(`${where} has unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  return v as Obj;
}

function str(o: Obj, k: string, where: string, required = false): void {
  if (o[k] === undefined && !required) return;
  if (typeof o[k] !== 'string' || (o[k] as string).length === 0) throw invalid(`${where}.${k} must be a non-empty string`);
}

function num(o: Obj, k: string, where: string, required = false): void {
  if (o[k] === undefined && !required) return;
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`${where}.${k} must be a number ≥ 0`);
}

function bool(o: Obj, k: string, where: string): void {
  if (o[k] !== undefined && typeof o[k] !== 'boolean') throw invalid(`${where}.${k} must be true or false`);
}

function arr(o: Obj, k: string, where: string, required = false): unknown[] {
  if (o[k] === undefined && !required) return [];
  if (!Array.isArray(o[k])) throw invalid(`${where}.${k} must be a list`);
  return o[k] as unknown[];
}

function portalList(o: Obj, k: string, where: string): void {
  arr(o, k, where, true).forEach((p, i) => {
    if (typeof p !== 'string') throw invalid(`${where}.${k}[${i}] must be a portal string`);
    try {
      portalKey(p);
    } catch {
      throw invalid(`${where}.${k}[${i}] is not a portal: ${p}`);
    }
  });
}

const WWN = /^3[0-9a-f]{32}$/;

/** Check a parsed scenario object and return it typed. */
export function validateScenario(raw: unknown): Scenario {
  const s = obj(raw, 'scenario', ['name', 'description', 'seed', 'latency', 'portals', 'arrays', 'hosts', 'faults']);
  str(s, 'name', 'scenario', true);
  str(s, 'description', 'scenario');
  num(s, 'seed', 'scenario');
  if (s.latency !== undefined) {
    const l = obj(s.latency, 'latency', Object.keys(DEFAULT_LATENCY));
    for (const k of Object.keys(l)) {
      if (k === 'perCommandMs') {
        const p = obj(l[k], 'latency.perCommandMs', Object.keys(l[k] as object));
        for (const c of Object.keys(p)) num(p, c, 'latency.perCommandMs');
      } else num(l, k, 'latency');
    }
  }
  if (s.portals !== undefined) {
    const ps = obj(s.portals, 'portals', Object.keys(s.portals as object));
    for (const [p, v] of Object.entries(ps)) {
      const where = `portals["${p}"]`;
      try {
        portalKey(p);
      } catch {
        throw invalid(`${where} is not a portal`);
      }
      const st = obj(v, where, ['state', 'latencyMs', 'loginTimeoutMs']);
      if (!['healthy', 'slow', 'refusing', 'dead'].includes(st.state as string)) throw invalid(`${where}.state must be healthy, slow, refusing or dead`);
      num(st, 'latencyMs', where);
      num(st, 'loginTimeoutMs', where);
    }
  }
  arr(s, 'arrays', 'scenario', true).forEach((a, i) => {
    const where = `arrays[${i}]`;
    const ao = obj(a, where, ['name', 'portals', 'companyId', 'vendor', 'model', 'kind', 'targets', 'subsystems', 'protocol']);
    if (ao.protocol !== undefined && !['iscsi', 'nvmeof'].includes(ao.protocol as string)) throw invalid(`${where}.protocol must be iscsi or nvmeof`);
    arr(ao, 'subsystems', where).forEach((n, j) => {
      const nw = `${where}.subsystems[${j}]`;
      const no = obj(n, nw, ['nqn', 'portals', 'serial', 'allowAnyHost', 'hosts', 'namespaces']);
      str(no, 'nqn', nw, true);
      if (no.portals !== undefined) portalList(no, 'portals', nw);
      str(no, 'serial', nw);
      bool(no, 'allowAnyHost', nw);
      arr(no, 'hosts', nw).forEach((h, k) => {
        if (typeof h !== 'string') throw invalid(`${nw}.hosts[${k}] must be a string`);
      });
      arr(no, 'namespaces', nw).forEach((x, k) => {
        const xw = `${nw}.namespaces[${k}]`;
        const xo = obj(x, xw, ['nsid', 'uuid', 'sizeBytes', 'readOnly']);
        num(xo, 'nsid', xw);
        str(xo, 'uuid', xw);
        num(xo, 'sizeBytes', xw);
        bool(xo, 'readOnly', xw);
      });
    });
    if (ao.kind !== undefined && !['tgt', 'lio', 'generic'].includes(ao.kind as string)) throw invalid(`${where}.kind must be tgt, lio or generic`);
    str(ao, 'name', where, true);
    portalList(ao, 'portals', where);
    if (ao.companyId !== undefined && !/^[0-9a-f]{6}$/.test(String(ao.companyId))) throw invalid(`${where}.companyId must be 6 hex digits`);
    str(ao, 'vendor', where);
    str(ao, 'model', where);
    arr(ao, 'targets', where).forEach((t, j) => {
      const tw = `${where}.targets[${j}]`;
      const to = obj(t, tw, ['iqn', 'tpgt', 'portals', 'luns', 'acl']);
      str(to, 'iqn', tw, true);
      num(to, 'tpgt', tw);
      portalList(to, 'portals', tw);
      arr(to, 'luns', tw).forEach((l, k) => {
        const lw = `${tw}.luns[${k}]`;
        const lo = obj(l, lw, ['lun', 'wwn', 'serial', 'sizeBytes', 'readOnly']);
        str(lo, 'serial', lw);
        num(lo, 'lun', lw, true);
        if (lo.wwn !== undefined && !WWN.test(String(lo.wwn))) throw invalid(`${lw}.wwn must look like 36006016074e03a008d3cf25b04e2daae`);
        num(lo, 'sizeBytes', lw);
        bool(lo, 'readOnly', lw);
      });
      arr(to, 'acl', tw).forEach((c, k) => {
        const cw = `${tw}.acl[${k}]`;
        const co = obj(c, cw, ['initiator', 'chapUser', 'chapPassword', 'luns']);
        str(co, 'initiator', cw, true);
        str(co, 'chapUser', cw);
        if (co.chapPassword !== undefined && typeof co.chapPassword !== 'string') throw invalid(`${cw}.chapPassword must be a string`);
        arr(co, 'luns', cw).forEach((n, m) => {
          if (typeof n !== 'number') throw invalid(`${cw}.luns[${m}] must be a number`);
        });
      });
    });
  });
  const names = new Set<string>();
  arr(s, 'hosts', 'scenario', true).forEach((h, i) => {
    const where = `hosts[${i}]`;
    const ho = obj(h, where, ['name', 'initiator', 'ip', 'multipathd', 'findMultipaths', 'firstScsiHost', 'localDisks', 'mounts', 'fcHosts', 'nvmeHostNqn', 'nvmeHostId', 'nvmeNativeMultipath', 'iscsiNodesDir', 'sessions']);
    str(ho, 'name', where, true);
    if (names.has(ho.name as string)) throw invalid(`${where}.name ${String(ho.name)} is used twice`);
    names.add(ho.name as string);
    str(ho, 'initiator', where, true);
    str(ho, 'ip', where);
    bool(ho, 'multipathd', where);
    if (ho.findMultipaths !== undefined && !['no', 'yes', 'greedy', 'smart', 'strict'].includes(ho.findMultipaths as string)) {
      throw invalid(`${where}.findMultipaths must be no, yes, greedy, smart or strict`);
    }
    num(ho, 'firstScsiHost', where);
    arr(ho, 'localDisks', where).forEach((d, k) => {
      const dw = `${where}.localDisks[${k}]`;
      const dobj = obj(d, dw, ['name', 'sizeBytes', 'ro']);
      str(dobj, 'name', dw, true);
      num(dobj, 'sizeBytes', dw);
      bool(dobj, 'ro', dw);
    });
    if (ho.mounts !== undefined) obj(ho.mounts, `${where}.mounts`, Object.keys(ho.mounts as object));
    arr(ho, 'fcHosts', where).forEach((f, k) => {
      const fw = `${where}.fcHosts[${k}]`;
      const fo = obj(f, fw, ['host', 'portName', 'nodeName', 'portState']);
      num(fo, 'host', fw, true);
      str(fo, 'portName', fw, true);
      str(fo, 'nodeName', fw, true);
      str(fo, 'portState', fw);
    });
    str(ho, 'nvmeHostNqn', where);
    str(ho, 'nvmeHostId', where);
    bool(ho, 'nvmeNativeMultipath', where);
    str(ho, 'iscsiNodesDir', where);
    if (ho.iscsiNodesDir !== undefined && !/^(\/[A-Za-z0-9._-]+)+$/.test(ho.iscsiNodesDir as string)) {
      throw invalid(`${where}.iscsiNodesDir must be an absolute path`);
    }
    arr(ho, 'sessions', where).forEach((x, k) => {
      const sw = `${where}.sessions[${k}]`;
      const so = obj(x, sw, ['target', 'portal']);
      str(so, 'target', sw, true);
      str(so, 'portal', sw, true);
    });
  });
  if (names.size === 0) throw invalid('scenario.hosts must list at least one compute host');
  arr(s, 'faults', 'scenario').forEach((f, i) => validateFault(f, `faults[${i}]`));
  return s as unknown as Scenario;
}

/** Parse scenario text (JSON, or YAML when `format` says so or the text is not JSON). */
export function parseScenario(text: string, format: 'json' | 'yaml' = text.trimStart().startsWith('{') ? 'json' : 'yaml', source = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw invalid(`${source} is not valid ${format.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
  }
  return validateScenario(raw);
}

const BUILTIN_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

/** Names of the built-in scenarios, sorted. */
export function builtinScenarioNames(): string[] {
  return readdirSync(BUILTIN_DIR)
    .filter((f) => /\.(json|ya?ml)$/.test(f))
    .map((f) => f.replace(/\.(json|ya?ml)$/, ''))
    .sort();
}

/**
 * A built-in scenario by name, or a scenario file by path (anything containing `/` or ending
 * in .json/.yaml/.yml).
 */
export function loadScenario(nameOrPath: string): Scenario {
  const isPath = nameOrPath.includes('/') || /\.(json|ya?ml)$/.test(nameOrPath);
  if (isPath) {
    let text: string;
    try {
      text = readFileSync(nameOrPath, 'utf8');
    } catch (e) {
      throw invalid(`cannot read ${nameOrPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parseScenario(text, nameOrPath.endsWith('.json') ? 'json' : 'yaml', nameOrPath);
  }
  const known = builtinScenarioNames();
  if (!known.includes(nameOrPath)) throw new HitchError('HITCH_SIM_UNKNOWN_SCENARIO', { name: JSON.stringify(nameOrPath), known: known.join(', ') });
  const file = readdirSync(BUILTIN_DIR).find((f) => f.replace(/\.(json|ya?ml)$/, '') === nameOrPath) as string;
  return parseScenario(readFileSync(BUILTIN_DIR + file, 'utf8'), file.endsWith('.json') ? 'json' : 'yaml', file);
}
