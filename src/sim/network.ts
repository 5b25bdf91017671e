/**
 * The simulated network: portals (`ip:port`) and how each one answers. The addresses are
 * names only; nothing ever sends a packet.
 */
import { HitchError } from '../errors.ts';
import type { PortalKind } from './latency.ts';

export interface PortalState {
  readonly kind: PortalKind;
  /** Extra one-way latency for `slow` portals. */
  readonly latencyMs: number;
  /** Per-portal override of the dead-portal login timeout (ms). */
  readonly loginTimeoutMs?: number;
}

const HEALTHY: PortalState = Object.freeze({ kind: 'healthy', latencyMs: 0 });

/** `192.168.1.60:3260` → `{ ip, port }`; a bare IP gets port 3260 as iscsiadm does. */
export function parsePortal(portal: string): { ip: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?(?:,-?\d+)?$/.exec(portal.trim());
  const ip = m?.[1] ?? m?.[2];
  if (!m || ip === undefined) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `bad portal ${portal}` });
  return { ip, port: m[3] === undefined ? 3260 : Number(m[3]) };
}

/** The canonical `ip:port` key. */
export function portalKey(portal: string): string {
  const { ip, port } = parsePortal(portal);
  return `${ip}:${port}`;
}

export class Network {
  readonly #portals = new Map<string, PortalState>();

  /** Set a portal's behaviour (unknown portals are healthy if some array serves them). */
  set(portal: string, state: Partial<PortalState> & { kind: PortalKind }): void {
    this.#portals.set(portalKey(portal), Object.freeze({ latencyMs: 0, ...state }));
  }

  get(portal: string): PortalState {
    return this.#portals.get(portalKey(portal)) ?? HEALTHY;
  }

  /** Every portal with an explicit state, sorted. */
  list(): Array<{ portal: string; state: PortalState }> {
    return [...this.#portals.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([portal, state]) => ({ portal, state }));
  }
}
