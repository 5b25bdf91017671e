/**
 * Which of a multipath volume's portals are alive, known without waiting for a login to fail: a
 * TCP probe of each portal (a handshake, no byte sent) when the connect starts, beside the
 * logins. A portal that answered `open` by the time the volume is usable is live, and the
 * connect's return waits (bounded) for its path to be in the map; one that refused, timed out
 * or has not answered yet is not waited for — its login goes on in the background as before.
 */
import { emitLog } from '../log.ts';
import { recordAddress } from '../tools/node-record.ts';
import type { BrickContext } from '../tools/run.ts';

export interface PortalProbes {
  /** Whether `portal` (`ip:port`, `[ipv6]:port`) has answered `open` so far. */
  isOpen(portal: string): boolean;
  /** End the probes still waiting: their answers no longer count. */
  stop(): void;
}

/**
 * Probe every distinct portal at once, each bounded by `timeoutMs`. Never throws: a probe that
 * fails (a host that refuses the address) counts as not open.
 */
export function probePortals(ctx: BrickContext, portals: readonly string[], timeoutMs: number): PortalProbes {
  const open = new Set<string>();
  const stop = new AbortController();
  for (const portal of new Set(portals)) {
    const { address, port } = recordAddress(portal);
    void ctx.span
      .run('probe tcp', { portal, timeoutMs }, async (span) => {
        const r = await ctx.host.probeTcp(address, Number(port), { timeoutMs, signal: stop.signal });
        span.set({ outcome: r.outcome, elapsedMs: r.elapsedMs });
        if (r.outcome === 'open') open.add(portal);
        else emitLog(span, ctx.logger, 'debug', `iSCSI portal ${portal}: TCP probe ${r.outcome} after ${r.elapsedMs} ms`);
      })
      .catch(() => undefined);
  }
  return {
    isOpen: (portal) => open.has(portal),
    stop: () => stop.abort(new Error('the volume is usable: the probes no longer count')),
  };
}
