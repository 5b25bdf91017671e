/**
 * Scale-out liveness, in a module of its own so the configuration can name the defaults without
 * loading the queue (and the PostgreSQL driver).
 */

/** Heartbeat period. A host is down once its heartbeat is older than two of these (`STALE_MS`). */
export const HEARTBEAT_MS = 3_000;
/** How old a heartbeat may be before the host counts as down: two heartbeat periods. */
export const STALE_MS = 2 * HEARTBEAT_MS;
/** The slow poll beside notifications. */
export const FALLBACK_POLL_MS = 5_000;
