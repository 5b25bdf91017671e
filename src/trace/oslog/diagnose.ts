/**
 * What only a log of another cloud can tell, added to `explain`'s own diagnosis:
 *
 * - the storage side's share: `initialize_connection` (or the attachment update) as a part of
 *   the whole — the one step the compute host cannot make faster;
 * - lock waits: time spent waiting for os-brick's host-wide `connect_volume` lock (every
 *   connect and disconnect on the host takes it) and for the instance's lock, and which other
 *   operation held it;
 * - the privsep daemon's start, when an operation paid for it (the first on a host after
 *   nova-compute started);
 * - the floor: what Hitch would have taken on the same data plane, from this log's own timings —
 *   the storage API calls as they took, plus the quickest healthy path's login and device
 *   appearance, plus the hot-plug. Not counted: dead portals (Hitch does not wait for them),
 *   waits for a multipath map (Hitch hands over the path and lets the map form), sleeps and
 *   rescans between tries, lock waits behind other attaches, and connector properties (read
 *   once and kept).
 */
import { formatMs } from '../explain.ts';
import type { SpanRecord } from '../span.ts';
import type { Operation } from './assemble.ts';

type S = Readonly<SpanRecord>;

const dur = (s: S): number | null => (s.endMs === null ? null : s.endMs - s.startMs);

function childrenOf(spans: readonly S[], id: number): S[] {
  return spans.filter((s) => s.parentId === id);
}

export interface FloorPart {
  readonly what: string;
  readonly ms: number;
}

/** The floor's parts; null when no path ever worked (there is no data plane to be quick on). */
export function floorOf(spans: readonly S[]): FloorPart[] | null {
  const paths = spans.filter((s) => s.name === 'connect_path' && s.outcome === 'ok' && s.endMs !== null);
  if (paths.length === 0) return null;
  const parts: FloorPart[] = [];
  const stepCalls = (step: string, label: (s: S) => string): void => {
    for (const top of spans.filter((s) => s.parentId === null && s.name === step)) {
      for (const c of childrenOf(spans, top.id)) {
        const d = dur(c);
        if (c.name.startsWith('block-storage ') && d !== null && c.outcome === 'ok') parts.push({ what: label(c), ms: d });
      }
    }
  };
  stepCalls('get-volume', () => 'get volume');
  stepCalls('initialize-connection', (c) => (typeof c.attrs['action'] === 'string' ? String(c.attrs['action']).replace(/^os-/, '') : 'attachment update'));
  // The quickest healthy path: its login, then its device.
  let best: { portal: string; login: number; device: number } | null = null;
  for (const p of paths) {
    const kids = childrenOf(spans, p.id);
    const login = kids.find((k) => k.name === 'exec iscsiadm' && / --login\b/.test(String(k.attrs['command'] ?? '')) && k.outcome === 'ok');
    const wait = kids.find((k) => k.name === 'wait device' && k.outcome === 'ok');
    const l = login ? (dur(login) ?? 0) : 0;
    const d = wait ? (dur(wait) ?? 0) : 0;
    const total = login || wait ? l + d : (dur(p) ?? 0);
    if (!best || total < best.login + best.device) best = { portal: String(p.attrs['portal'] ?? '?'), login: login || wait ? l : total, device: d };
  }
  if (best) {
    parts.push({ what: `login to ${best.portal}`, ms: best.login });
    if (best.device > 0) parts.push({ what: 'device', ms: best.device });
  }
  const hotplug = spans.find((s) => s.parentId === null && s.name === 'hotplug');
  if (hotplug && dur(hotplug) !== null) parts.push({ what: 'hot-plug', ms: dur(hotplug) as number });
  stepCalls('complete', (c) => (typeof c.attrs['action'] === 'string' ? String(c.attrs['action']).replace(/^os-/, '') : 'attachment complete'));
  return parts;
}

/** The extra diagnosis lines for one operation of a log. */
export function diagnoseLog(op: Operation, spans: readonly S[], totalMs: number, all: readonly { op: Operation; spans: readonly S[] }[]): string[] {
  const out: string[] = [];
  const pct = (ms: number): string => (totalMs > 0 ? `${Math.round((100 * ms) / totalMs)}%` : '-');

  const init = spans.find((s) => s.parentId === null && s.name === 'initialize-connection');
  if (init && init.endMs !== null) {
    const d = init.endMs - init.startMs;
    out.push(`initialize_connection (the storage side) took ${formatMs(d)} of the ${formatMs(totalMs)} (${pct(d)})`);
  }

  for (const w of spans.filter((s) => s.name === 'lock connect_volume' || s.name === 'lock-instance' || (s.name === 'lock' && s.attrs['lock']))) {
    const d = dur(w);
    if (d === null || d < 1000) continue;
    const lockName = w.name === 'lock connect_volume' ? 'connect_volume' : String(w.attrs['lock'] ?? op.server ?? '');
    const what = w.name === 'lock connect_volume' ? "os-brick's host-wide connect_volume lock" : `the instance lock ${lockName}`;
    const holders = all
      .filter((o) => o.op !== op)
      .filter((o) => (w.name === 'lock connect_volume' ? o.op.lockWindows.some(([a, b]) => a <= w.startMs + 1 && b >= w.startMs) : instanceLockHeld(o.spans, w.startMs)))
      .map((o) => `the ${o.op.kind} of volume ${o.op.volume ?? '?'}${o.op.seed.requestId ? ` (${o.op.seed.requestId})` : ''}`);
    out.push(`waited ${formatMs(d)} (${pct(d)}) for ${what}${holders.length ? `, held by ${holders.join(', ')}` : ''}`);
  }

  for (const p of spans.filter((s) => s.name === 'privsep daemon start' && s.endMs !== null)) {
    const d = p.endMs === null ? 0 : p.endMs - p.startMs;
    if (d >= 1000) out.push(`os-brick started its privsep daemon during this ${op.kind}: ${formatMs(d)} (${pct(d)}), once per nova-compute process`);
  }
  const connect = spans.find((s) => s.parentId === null && s.name === 'connect-volume');
  // os-brick's own rollback of a failed connect: logouts and node records deleted after the
  // last path gave up (os-brick's _cleanup_connection).
  if (connect && connect.outcome === 'error') {
    const under = new Set<number>([connect.id]);
    for (const s of spans) if (s.parentId !== null && under.has(s.parentId)) under.add(s.id);
    const lastPath = Math.max(...spans.filter((s) => s.name === 'connect_path' && under.has(s.id)).map((s) => s.endMs ?? s.startMs), -Infinity);
    const cleanup = spans.filter((s) => under.has(s.id) && s.name === 'exec iscsiadm' && s.startMs >= lastPath && /--logout|--op delete/.test(String(s.attrs['command'] ?? '')));
    if (cleanup.length > 0) {
      const portals = [...new Set(cleanup.map((s) => String(s.attrs['portal'] ?? '')).filter(Boolean))];
      const from = Math.min(...cleanup.map((s) => s.startMs));
      const to = Math.max(...cleanup.map((s) => s.endMs ?? s.startMs));
      out.push(`os-brick rolled the connect back: logged out of and deleted the node records of ${portals.join(', ') || 'its portals'} (${formatMs(to - from)})`);
    }
  }
  const floor = floorOf(spans);
  if (floor && connect) {
    const f = floor.reduce((a, p) => a + p.ms, 0);
    const ratio = f > 0 ? totalMs / f : 0;
    out.push(
      `Hitch would have taken about ${formatMs(f)} for the same data plane: the floor from this log's own timings (${floor.map((p) => `${p.what} ${formatMs(p.ms)}`).join(' + ')}); this ${op.kind} took ${formatMs(totalMs)}${ratio >= 1.05 ? `, ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× the floor` : ''}`,
    );
  } else if (connect && connect.outcome === 'error') {
    out.push('no floor: no portal gave a usable path, so no attach could have been quick on this data plane');
  }
  return out;
}

function instanceLockHeld(spans: readonly S[], at: number): boolean {
  const lock = spans.find((s) => s.parentId === null && s.name === 'lock-instance' && s.endMs !== null);
  const unlock = spans.find((s) => s.parentId === null && s.name === 'unlock-instance');
  return !!lock && lock.endMs !== null && lock.endMs <= at && (!unlock || unlock.startMs >= at);
}
