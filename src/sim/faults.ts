/**
 * Fault injection, by name and by schedule.
 *
 * A fault is data (so scenarios can carry it): a name, what it applies to (a portal, a host, a
 * WWN, a target, a command), and when — from virtual time `at` (until `until`), and/or only
 * on the `nth` matching call (and the `times - 1` after it). Portal faults change the network
 * when they take effect; the others are asked about by the model at the moment they matter
 * ("does this login fail auth?", "does this device ever appear?").
 */
import { HitchError } from '../errors.ts';
import { portalKey } from './network.ts';

export const FAULT_NAMES = [
  'portal-dead',
  'portal-refusing',
  'portal-slow',
  'portal-healthy',
  'login-auth-failure',
  'target-not-found',
  'device-never-appears',
  'device-appears-late',
  'multipathd-down',
  'map-never',
  'multipathd-event-late',
  'scsi-id-failure',
  'read-only',
  'command-hangs',
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

export interface FaultSpec {
  readonly fault: FaultName;
  /** `ip:port` for portal and login faults. */
  readonly portal?: string;
  /** Compute host name (multipathd-down, command-hangs, …); default every host. */
  readonly host?: string;
  /** Device faults: the LUN's WWN; default every device. */
  readonly wwn?: string;
  /** Login faults: the target IQN; default every target. */
  readonly target?: string;
  /** portal-slow: extra one-way latency. */
  readonly latencyMs?: number;
  /** portal-dead: override the login timeout for this portal. */
  readonly loginTimeoutMs?: number;
  /** device-appears-late: extra delay before the SCSI device shows up; multipathd-event-late: how late multipathd reads the disk's udev event. */
  readonly delayMs?: number;
  /** command-hangs: the binary (`iscsiadm`) and a substring of its joined arguments. */
  readonly command?: string;
  readonly match?: string;
  /** command-hangs: how long the command hangs (default: forever, i.e. until its timeout). */
  readonly hangMs?: number;
  /** Virtual time the fault takes effect (default 0) and stops (default never). */
  readonly at?: number;
  readonly until?: number;
  /** Only the nth matching call (1-based) is affected … */
  readonly nth?: number;
  /** … and this many calls from there (default 1 with `nth`, unlimited without). */
  readonly times?: number;
}

export interface FaultContext {
  readonly now: number;
  readonly host?: string;
  readonly portal?: string;
  readonly target?: string;
  readonly wwn?: string;
  readonly command?: string;
  readonly argsText?: string;
}

interface Armed {
  readonly spec: FaultSpec;
  calls: number;
}

/** Validate one fault spec (from a scenario file or a test). */
export function validateFault(raw: unknown, where: string): FaultSpec {
  if (typeof raw !== 'object' || raw === null) throw invalid(`${where} must be an object`);
  const f = raw as Record<string, unknown>;
  if (typeof f.fault !== 'string' || !(FAULT_NAMES as readonly string[]).includes(f.fault)) {
    throw invalid(`${where}.fault must be one of ${FAULT_NAMES.join(', ')}`);
  }
  for (const k of ['portal', 'host', 'wwn', 'target', 'command', 'match']) {
    if (f[k] !== undefined && typeof f[k] !== 'string') throw invalid(`${where}.${k} must be a string`);
  }
  for (const k of ['latencyMs', 'loginTimeoutMs', 'delayMs', 'hangMs', 'at', 'until', 'nth', 'times']) {
    const v = f[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw invalid(`${where}.${k} must be a number ≥ 0`);
  }
  if (f.fault.startsWith('portal-') && typeof f.portal !== 'string') throw invalid(`${where}: ${f.fault} needs a portal`);
  if (f.fault === 'command-hangs' && typeof f.command !== 'string') throw invalid(`${where}: command-hangs needs a command`);
  return f as unknown as FaultSpec;
}

function invalid(reason: string): HitchError {
  return new HitchError('HITCH_SIM_INVALID_SCENARIO', { reason });
}

export class FaultSet {
  readonly #armed: Armed[] = [];

  add(spec: FaultSpec): void {
    this.#armed.push({ spec: validateFault(spec, 'fault'), calls: 0 });
  }

  /** Every fault as given, in order (inspection). */
  list(): FaultSpec[] {
    return this.#armed.map((a) => a.spec);
  }

  /** Remove every fault with this name (and, if given, this portal/wwn/host). */
  clear(name?: FaultName): void {
    for (let i = this.#armed.length - 1; i >= 0; i--) {
      if (name === undefined || this.#armed[i]?.spec.fault === name) this.#armed.splice(i, 1);
    }
  }

  /**
   * The first fault `name` that applies in `ctx`, counting this as a call for `nth` faults.
   * Ask once per event (one login, one device), so call counts mean what they say.
   */
  hit(name: FaultName, ctx: FaultContext): FaultSpec | undefined {
    for (const a of this.#armed) {
      const s = a.spec;
      if (s.fault !== name || !matches(s, ctx)) continue;
      a.calls++;
      if (s.nth !== undefined) {
        const last = s.nth + (s.times ?? 1) - 1;
        if (a.calls < s.nth || a.calls > last) continue;
      } else if (s.times !== undefined && a.calls > s.times) continue;
      return s;
    }
    return undefined;
  }

  /** Like `hit` without counting a call (for state questions: "is multipathd down now?"). */
  peek(name: FaultName, ctx: FaultContext): FaultSpec | undefined {
    return this.#armed.find((a) => a.spec.fault === name && a.spec.nth === undefined && matches(a.spec, ctx))?.spec;
  }
}

function matches(s: FaultSpec, ctx: FaultContext): boolean {
  if (s.at !== undefined && ctx.now < s.at) return false;
  if (s.until !== undefined && ctx.now >= s.until) return false;
  if (s.host !== undefined && ctx.host !== undefined && s.host !== ctx.host) return false;
  if (s.portal !== undefined && (ctx.portal === undefined || portalKey(s.portal) !== portalKey(ctx.portal))) return false;
  if (s.target !== undefined && ctx.target !== undefined && s.target !== ctx.target) return false;
  if (s.wwn !== undefined && ctx.wwn !== undefined && s.wwn !== ctx.wwn) return false;
  if (s.command !== undefined) {
    const base = (c: string): string => c.split('/').pop() ?? c;
    if (ctx.command === undefined || base(s.command) !== base(ctx.command)) return false;
    if (s.match !== undefined && !(ctx.argsText ?? '').includes(s.match)) return false;
  }
  return true;
}
