/**
 * Scale-out liveness, in a module of its own so the configuration can name the defaults without
 * loading the queue (and the PostgreSQL driver).
 *
 * The promise is `hostDownAfterMs` (default two heartbeat periods, 6 s): a host whose agent died
 * is known down within that time of its last heartbeat. Agents heartbeat every half of it. A
 * check calls a host down once its heartbeat is older than the bound less a twelfth (5.5 s of
 * 6): a check at the bound itself would see it only after the bound, by the time its own
 * statement takes, so the promise would be kept only at the edge and missed by milliseconds in
 * every measurement. A live agent's heartbeat may still come up to 2.5 s late before its host
 * counts as down.
 */

/** Heartbeat period. */
export const HEARTBEAT_MS = 3_000;
/** The default bound on host-down detection after the last heartbeat: two heartbeat periods. */
export const HOST_DOWN_AFTER_MS = 2 * HEARTBEAT_MS;

/** The heartbeat age at which a host counts as down, for a detection bound of `hostDownAfterMs`. */
export function staleAfterMs(hostDownAfterMs: number): number {
  return hostDownAfterMs - Math.floor(hostDownAfterMs / 12);
}

/** How old a heartbeat may be before the host counts as down, by default (5.5 s). */
export const STALE_MS = staleAfterMs(HOST_DOWN_AFTER_MS);
/** The slow poll beside notifications. */
export const FALLBACK_POLL_MS = 5_000;
