/**
 * oslo.concurrency's lock lines, as `lockutils.synchronized` writes them (and os-brick's copy
 * of that wrapper in `initiator/connectors/base.py`, same words). Nova takes the instance's
 * lock (named by its uuid) around reserve, attach and detach; os-brick takes `connect_volume`,
 * one lock for the whole host, around every connect and disconnect.
 *
 * Newton (oslo.concurrency 3.x), from a public Cinder log (2015):
 *   Lock "connect_volume" released by "connect_volume" :: held 122.041s
 * Since 2020 (`gotten` is quoted; `unacquired` with `held N/A` when a non-blocking take failed):
 *   Acquiring lock "connect_volume" by "os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume"
 *   Lock "connect_volume" acquired by "os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume" :: waited 0.001s
 *   Lock "connect_volume" "released" by "os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume" :: held 12.207s
 * The internal lock's own lines (`lockutils.lock(..., do_log=True)`):
 *   Acquiring lock "refresh_cache-62b302e5-6d95-4e61-8dd4-6aa8b1049545"
 *   Acquired lock "refresh_cache-62b302e5-6d95-4e61-8dd4-6aa8b1049545"
 *   Releasing lock "refresh_cache-62b302e5-6d95-4e61-8dd4-6aa8b1049545"
 */
import type { LogEvent } from '../events.ts';

const ACQUIRING = /^Acquiring lock "([^"]+)"(?: by "([^"]+)")?$/;
const ACQUIRED = /^(?:Lock "([^"]+)" acquired by "([^"]+)" :: waited ([\d.]+)s|Acquired lock "([^"]+)")$/;
const RELEASED = /^(?:Lock "([^"]+)" "?(released|unacquired)"? by "([^"]+)" :: held (N\/A|[\d.]+s)|Releasing lock "([^"]+)")$/;

const secs = (s: string | undefined): number | null => (s && s !== 'N/A' ? Math.round(Number(s.replace(/s$/, '')) * 1000) : null);

export function parseLockutils(message: string): LogEvent[] {
  if (!message.includes('ock "')) return [];
  let m = ACQUIRING.exec(message);
  if (m) return [{ kind: 'lock.acquiring', lock: m[1] ?? '', by: m[2] ?? null }];
  m = ACQUIRED.exec(message);
  if (m) return [{ kind: 'lock.acquired', lock: m[1] ?? m[4] ?? '', by: m[2] ?? null, waitedMs: secs(m[3]) }];
  m = RELEASED.exec(message);
  if (m) {
    if (m[2] === 'unacquired') return [];
    return [{ kind: 'lock.released', lock: m[1] ?? m[5] ?? '', by: m[3] ?? null, heldMs: secs(m[4]) }];
  }
  return [];
}
