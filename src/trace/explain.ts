/**
 * `explain`: turn an operation's spans into what the seed's author worked out by hand from
 * Nova's logs — a waterfall of steps and sub-steps, the critical path (the chain of spans that
 * decided when the operation ended), and a diagnosis in words of what dominated.
 *
 * Pure: spans in, a report out. The CLI prints `renderExplain`, the dashboard draws the same
 * report as SVG (it bundles this file), `--json` prints the report itself.
 *
 * Times are relative to the operation's first span. The operation ends when its last top-level
 * step ends; spans that ran on after it (a dead portal's login left to fail in the background)
 * are kept, marked `background`, and do not stretch the total.
 */
import type { SpanRecord } from './span.ts';

export interface ExplainRow {
  readonly id: number;
  readonly parentId: number | null;
  readonly depth: number;
  readonly name: string;
  readonly label: string;
  readonly startMs: number;
  readonly durationMs: number | null;
  readonly outcome: string;
  /** On the chain of spans that decided when the operation ended. */
  readonly critical: boolean;
  /** Ended (or still runs) after the operation ended: it did not hold the operation. */
  readonly background: boolean;
  readonly error: string | null;
}

/**
 * Work that ran on after the operation ended (a dead portal's login left to fail): none, ended
 * at `endMs` (the last such span's own end, relative to the first span's start), or still
 * running when the trace was read.
 */
export type BackgroundWork = { readonly state: 'none' } | { readonly state: 'ended'; readonly endMs: number } | { readonly state: 'running' };

export interface ExplainReport {
  /** From the first span's start to the last top-level step's end (or now, if running). */
  readonly totalMs: number;
  /**
   * How far the drawing reaches: the last span's end, or now while any span still runs (only
   * then does it depend on when the trace is read).
   */
  readonly spanMs: number;
  readonly background: BackgroundWork;
  readonly rows: readonly ExplainRow[];
  /** The critical chain, outermost first, each `name detail (duration)`. */
  readonly criticalPath: readonly string[];
  readonly diagnosis: readonly string[];
}

type S = Readonly<SpanRecord>;

/** `850 ms`, `7.2 s`, `120 s`. */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

/**
 * Shorten a command line so a row stays readable: a long target name after `-T` goes (the
 * path's row above names the portal), other long tokens (by-path links) are cut in the middle.
 */
function shortCommand(cmd: string): string {
  return cmd
    .replace(/ -T \S{33,}/, '')
    .split(' ')
    .map((t) => (t.length > 32 ? `${t.slice(0, 12)}…${t.slice(-10)}` : t))
    .join(' ');
}

/** A row's text: the span's name and its most telling attribute. */
export function spanLabel(s: S): string {
  const a = s.attrs;
  const pick = (k: string): string | null => {
    const v = a[k];
    return typeof v === 'string' && v.length > 0 ? v : null;
  };
  if (s.name.startsWith('exec ')) {
    const c = pick('command');
    return c ? `exec ${shortCommand(c)}` : s.name;
  }
  for (const k of ['portal', 'path', 'device', 'target', 'source']) {
    const v = pick(k);
    if (v) return `${s.name} ${v.length > 90 ? `${v.slice(0, 87)}...` : v}`;
  }
  return s.name;
}

/** Spans too small to tell anything in a waterfall: log lines. */
const isNoise = (s: S): boolean => s.name === 'log';

const endOf = (s: S, now: number): number => s.endMs ?? now;

/**
 * The critical path: walking back from the operation's end, at each level take the child that
 * ended last before the cursor, then move the cursor to that child's start and repeat — so a
 * step that gated the next one (a login before the device wait) is on the path, and a sibling
 * that ended early or ran on in the background is not.
 */
function criticalIds(spans: readonly S[], kids: Map<number | null, S[]>, opEnd: number, now: number): Set<number> {
  const ids = new Set<number>();
  const walk = (parent: number | null, from: number, until: number): void => {
    const children = (kids.get(parent) ?? []).filter((k) => !isNoise(k) && endOf(k, now) > k.startMs);
    let cursor = until;
    for (;;) {
      const cands = children.filter((k) => !ids.has(k.id) && endOf(k, now) <= cursor && k.startMs >= from);
      if (cands.length === 0) return;
      const pick = cands.reduce((a, b) => (endOf(b, now) > endOf(a, now) || (endOf(b, now) === endOf(a, now) && b.startMs < a.startMs) ? b : a));
      ids.add(pick.id);
      walk(pick.id, pick.startMs, endOf(pick, now));
      cursor = pick.startMs;
    }
  };
  walk(null, Math.min(...spans.map((s) => s.startMs)), opEnd);
  return ids;
}

function depthOf(s: S, byId: Map<number, S>): number {
  let d = 0;
  let p = s.parentId;
  while (p !== null && d < 64) {
    d++;
    p = byId.get(p)?.parentId ?? null;
  }
  return d;
}

function exitCodeOf(s: S, spans: readonly S[]): number | null {
  // The login command under the path span carries the exit code; fall back to the message.
  const login = spans.find((c) => c.parentId === s.id && c.name === 'exec iscsiadm' && String(c.attrs['command'] ?? '').includes('--login') && c.outcome === 'error');
  const rc = login?.attrs['exitCode'];
  if (typeof rc === 'number') return rc;
  const m = /exit(?: code)? (\d+)/.exec(s.error?.message ?? '');
  return m ? Number(m[1]) : null;
}

/** Why a path did not come up, in a few words. */
function pathFailure(p: S, spans: readonly S[]): string {
  if (p.endMs === null) return 'not answering';
  const exit = exitCodeOf(p, spans);
  if (p.error?.code === 'HITCH_ISCSI_LOGIN_TIMEOUT' || exit === 8) return 'unreachable';
  if (p.error?.code === 'HITCH_ISCSI_AUTH_FAILED' || exit === 24) return 'refused the login (authentication)';
  return 'failed';
}

/**
 * Redundancy lost: an attach that succeeded on fewer paths than it was given. Counted when
 * the connect returned (a path that came up later in the background restored it), with the
 * next step: the same portals are in every attach's connection to that array.
 */
function redundancy(connect: S | undefined, allPaths: readonly S[], spans: readonly S[]): string[] {
  const usableAt = connect?.outcome === 'ok' ? connect.endMs : null;
  // One path per portal: a connector that tried a portal again (Newton's, on every rescan round)
  // has several attempts of it; the portal's last attempt says how it ended.
  const byPortal = new Map<string, S>();
  for (const p of allPaths) byPortal.set(String(p.attrs['portal']), p);
  const paths = [...byPortal.values()];
  if (usableAt == null || paths.length < 2) return [];
  const upAtConnect = paths.filter((p) => p.outcome === 'ok' && p.endMs !== null && p.endMs <= usableAt);
  const down = paths.filter((p) => !upAtConnect.includes(p));
  if (down.length === 0 || upAtConnect.length === 0) return [];
  const later = down.filter((p) => p.outcome === 'ok');
  const lost = down.filter((p) => p.outcome !== 'ok');
  const out = [
    `attached on ${upAtConnect.length} of ${paths.length} paths; ${down.map((p) => `${String(p.attrs['portal'])} ${p.outcome === 'ok' ? 'came up only after the attach' : pathFailure(p, spans)}`).join(', ')}`,
  ];
  if (later.length > 0 && lost.length === 0) out[0] += ': redundancy was restored in the background';
  for (const p of lost) {
    const portal = String(p.attrs['portal']);
    const why = pathFailure(p, spans);
    out.push(
      why === 'refused the login (authentication)'
        ? `next step: check the CHAP account of this volume on the target at ${portal}: the other paths logged in with the same credentials`
        : `next step: check the network path or the target at ${portal}: every attach to this array will try it`,
    );
  }
  return out;
}

function diagnose(spans: readonly S[], t0: number, opEnd: number, running: boolean, now: number, crit: ReadonlySet<number>): string[] {
  const out: string[] = [];
  const totalMs = opEnd - t0;
  const connect = spans.find((s) => s.name === 'connect-volume' && s.parentId === null);
  const paths = spans.filter((s) => s.name === 'connect_path');
  const okPaths = paths.filter((p) => p.outcome === 'ok');
  // Failed logins, one line per portal however many times it failed (a serial connector tries
  // a dead portal again on every rescan round).
  const byPortal = new Map<string, S[]>();
  for (const p of paths.filter((x) => x.outcome === 'error')) {
    const key = String(p.attrs['portal']);
    byPortal.set(key, [...(byPortal.get(key) ?? []), p]);
  }
  for (const [portal, list] of byPortal) {
    const tries = list.map((p) => {
      const login = spans.find((c) => c.parentId === p.id && c.name === 'exec iscsiadm' && String(c.attrs['command'] ?? '').includes('--login'));
      const dur = login?.endMs != null ? login.endMs - login.startMs : (p.endMs ?? p.startMs) - p.startMs;
      const exit = exitCodeOf(p, spans);
      return { p, dur, exit, timedOut: p.error?.code === 'HITCH_ISCSI_LOGIN_TIMEOUT' || exit === 8 };
    });
    const exits = [...new Set(tries.map((t) => t.exit).filter((x): x is number => x !== null))];
    const exitText = exits.length ? ` (iscsiadm exit ${exits.join(', ')})` : '';
    const allTimedOut = tries.every((t) => t.timedOut);
    const last = tries[tries.length - 1] as (typeof tries)[number];
    let line: string;
    if (tries.length === 1) {
      // A log can begin after a login started: then only its end is known.
      const after = last.p.attrs['startUnknown'] === true ? '' : ` after ${formatMs(last.dur)}`;
      line = `login to ${portal} ${allTimedOut ? `timed out${after}${exitText}` : `failed${after}${exitText}: ${last.p.error?.message ?? last.p.error?.code ?? 'error'}`}`;
    } else {
      const durs = tries.map((t) => formatMs(t.dur));
      const each = durs.every((d) => d === durs[0]) ? `after ${durs[0]} each` : `after ${durs.join(', ')}`;
      line = `login to ${portal} ${allTimedOut ? 'timed out' : 'failed'} ${tries.length} times, ${each}${exitText}${allTimedOut ? '' : `: ${last.p.error?.message ?? last.p.error?.code ?? 'error'}`}`;
    }
    if (connect?.endMs != null && connect.outcome === 'ok' && okPaths.length > 0) {
      // Usable when the first healthy path had its device; a connector that waited longer
      // (for the dead portal, for a map) returned later.
      // A path is known usable when its device showed (a device wait under it, or the device
      // named); a login alone (Newton's connector says no more) counts only at the connect's end.
      const usableAtOf = (p: S): number =>
        p.endMs !== null && (typeof p.attrs['device'] === 'string' || spans.some((c) => c.parentId === p.id && c.name === 'wait device' && c.outcome === 'ok')) ? p.endMs : (connect.endMs as number);
      const first = okPaths.reduce((a, b) => (usableAtOf(b) < usableAtOf(a) ? b : a));
      const usable = Math.min(usableAtOf(first), connect.endMs);
      line += `; the volume was usable at ${formatMs(usable - t0)} through ${String(first.attrs['portal'])}`;
      if (connect.endMs - usable >= 1000) line += `, the attach returned at ${formatMs(connect.endMs - t0)}`;
    }
    out.push(line);
    const held = tries.filter((t) => crit.has(t.p.id));
    if (held.length > 0) {
      const ms = held.reduce((a, t) => a + t.dur, 0);
      out.push(`the attach waited for the dead portal ${portal}: ${held.length > 1 ? `${held.length} failed logins, ` : ''}${formatMs(ms)} of the ${formatMs(totalMs)}${totalMs > 0 ? ` (${Math.round((100 * ms) / totalMs)}%)` : ''}`);
    } else if (connect?.endMs != null && tries.some((t) => t.p.endMs === null || t.p.endMs > (connect.endMs as number))) {
      out.push(`${portal} was left to fail in the background: it did not hold the attach`);
    }
  }
  // Logins still hanging when the operation ended (it did not wait for them).
  if (connect?.endMs != null && connect.outcome === 'ok') {
    for (const p of paths.filter((x) => x.endMs === null)) {
      out.push(`login to ${String(p.attrs['portal'])} had not answered after ${formatMs(now - p.startMs)}; the attach went on without it (usable at ${formatMs(connect.endMs - t0)} through ${okPaths.map((o) => String(o.attrs['portal'])).join(', ') || 'another portal'})`);
    }
  }
  out.push(...redundancy(connect, paths, spans));
  const mp = spans.find((s) => s.name === 'wait multipath' && (s.attrs['found'] === false || s.outcome === 'error'));
  const noMap = spans.find((s) => s.name === 'log' && /multipath/i.test(String(s.attrs['message'] ?? '')) && /(single path|not find|Unable to find)/i.test(String(s.attrs['message'] ?? '')));
  if (mp || noMap) {
    const wwnAttr = spans.find((s) => typeof s.attrs['scsi_wwn'] === 'string')?.attrs['scsi_wwn'];
    const wwn = typeof wwnAttr === 'string' ? wwnAttr : String(mp?.attrs['path'] ?? '').replace(/^.*dm-uuid-mpath-/, '');
    const dev = connect ? String(connect.attrs['path'] ?? '') : '';
    const waited = mp?.endMs != null ? ` (waited ${formatMs(mp.endMs - mp.startMs)})` : '';
    out.push(`multipathd did not create a map for WWN ${wwn}${waited}${dev && !dev.includes('mpath') ? `; fell back to single path ${dev}` : ''}`);
  }
  const dev = spans.filter((s) => s.name === 'wait device' && s.endMs !== null && s.endMs - s.startMs >= 1000);
  for (const d of dev) {
    out.push(`${d.outcome === 'error' ? 'the device never appeared' : 'the device took'} ${formatMs((d.endMs as number) - d.startMs)} to appear at ${String(d.attrs['path'] ?? '?')}${d.outcome === 'error' ? '' : ' (udev)'}`);
  }
  if (totalMs > 0) {
    for (const s of spans) {
      if (typeof s.attrs['method'] !== 'string' || s.endMs === null) continue;
      const d = s.endMs - s.startMs;
      if (d >= 1000 && d > 0.3 * totalMs) {
        // The backend's own work inside it, when the service ran in process (volume/traced-backend.ts).
        const inner = spans.filter((c) => c.parentId === s.id && typeof c.attrs['backend'] === 'string' && c.endMs !== null);
        const of = inner.map((c) => `the ${String(c.attrs['backend'])} backend's ${c.name.split(' ').slice(2).join(' ')} ${formatMs((c.endMs as number) - c.startMs)}`).join(', ');
        out.push(`the storage API call ${s.name.replace(/^block-storage /, '')} took ${formatMs(d)} of ${formatMs(totalMs)} (${Math.round((100 * d) / totalMs)}%)${of ? `, of which ${of}` : ''}`);
      }
    }
  }
  const plug = spans.find((s) => s.name === 'hotplug' && s.outcome === 'error');
  if (plug) out.push(`the hypervisor refused the disk: ${plug.error?.message ?? 'unknown error'}`);
  const firstFail = spans.find((s) => s.parentId === null && s.outcome === 'error');
  if (firstFail && !plug) out.push(`step ${firstFail.name} failed: ${firstFail.error?.code ? `${firstFail.error.code}: ` : ''}${firstFail.error?.message ?? 'error'}`);
  const rollback = spans.find((s) => s.parentId === null && s.name === 'rollback');
  if (rollback) {
    const undone = spans.filter((s) => s.parentId === rollback.id).map((s) => s.name.replace(/^rollback\./, ''));
    out.push(
      rollback.outcome === 'error'
        ? `the rollback failed: ${rollback.error?.code ? `${rollback.error.code}: ` : ''}${rollback.error?.message ?? 'error'}`
        : `rolled back${undone.length ? `: ${undone.join(', ')}` : ''}`,
    );
  }
  if (running) out.push('the operation is still running');
  if (out.length === 0) {
    const steps = spans.filter((s) => s.parentId === null && s.endMs !== null);
    const top = steps.reduce<S | undefined>((a, b) => (!a || (b.endMs as number) - b.startMs > (a.endMs as number) - a.startMs ? b : a), undefined);
    if (top && totalMs > 0) {
      const d = (top.endMs as number) - top.startMs;
      out.push(`no fault seen; ${top.name} took the most time: ${formatMs(d)} of ${formatMs(totalMs)} (${Math.round((100 * d) / totalMs)}%)`);
    }
  }
  return out;
}

/**
 * The report for one operation's spans. `nowMs` (the host clock's now) sizes spans that are
 * still running; without it they count up to the latest time seen.
 */
export function explain(spans: readonly Readonly<SpanRecord>[], nowMs?: number): ExplainReport {
  if (spans.length === 0) return { totalMs: 0, spanMs: 0, background: { state: 'none' }, rows: [], criticalPath: [], diagnosis: ['no spans recorded'] };
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const latest = Math.max(...spans.map((s) => s.endMs ?? s.startMs));
  const now = Math.max(nowMs ?? latest, latest);
  const top = spans.filter((s) => s.parentId === null);
  const running = top.some((s) => s.endMs === null);
  const opEnd = running ? now : Math.max(...top.map((s) => s.endMs ?? s.startMs));
  const byId = new Map(spans.map((s) => [s.id, s]));
  const kids = new Map<number | null, S[]>();
  for (const s of spans) {
    // A span whose parent is missing (a truncated trace) is shown at the top level.
    const parent = s.parentId !== null && byId.has(s.parentId) ? s.parentId : null;
    kids.set(parent, [...(kids.get(parent) ?? []), s]);
  }
  for (const list of kids.values()) list.sort((a, b) => a.startMs - b.startMs || a.id - b.id);
  const crit = criticalIds(spans, kids, opEnd, now);
  const rows: ExplainRow[] = [];
  const visit = (parent: number | null): void => {
    for (const s of kids.get(parent) ?? []) {
      if (isNoise(s)) continue;
      rows.push({
        id: s.id,
        parentId: s.parentId,
        depth: depthOf(s, byId),
        name: s.name,
        label: spanLabel(s),
        startMs: s.startMs - t0,
        durationMs: s.endMs === null ? null : s.endMs - s.startMs,
        outcome: s.outcome,
        critical: crit.has(s.id),
        background: !running && endOf(s, now) > opEnd,
        error: s.error ? `${s.error.code}: ${s.error.message}` : null,
      });
      visit(s.id);
    }
  };
  visit(null);
  const total = opEnd - t0;
  // The chain down to the steps' direct work, and below that only what cost a noticeable share.
  const criticalPath = rows
    .filter((r) => r.critical && (r.depth <= 1 || (r.durationMs ?? total) >= 0.02 * total))
    .map((r) => `${'  '.repeat(r.depth)}${r.label} (${r.durationMs === null ? 'running' : formatMs(r.durationMs)})`);
  // The trace's own times: `now` only sizes what is still running.
  const stillRunning = spans.some((s) => s.endMs === null);
  const background: BackgroundWork = running
    ? { state: 'none' }
    : stillRunning
      ? { state: 'running' }
      : latest > opEnd
        ? { state: 'ended', endMs: latest - t0 }
        : { state: 'none' };
  return { totalMs: total, spanMs: (stillRunning ? now : latest) - t0, background, rows, criticalPath, diagnosis: diagnose(spans, t0, opEnd, running, now, crit) };
}

/** ` (background work went on until 127 s)`, ` (background work still running)`, or nothing. */
export function backgroundText(b: BackgroundWork): string {
  if (b.state === 'ended') return ` (background work went on until ${formatMs(b.endMs)})`;
  if (b.state === 'running') return ' (background work still running)';
  return '';
}

export interface RenderOptions {
  /** Width of the bar column (default 40). */
  readonly width?: number;
  /** Deepest level shown (default 3; 0 = the steps only). */
  readonly maxDepth?: number;
  /** Width of the label column (default 56). */
  readonly labelWidth?: number;
}

/**
 * The report as text: a Gantt waterfall scaled to the operation (a background span that ran
 * past it ends in `>`), the critical path, the diagnosis. `#` marks the critical path, `x` a
 * failure, `=` the rest.
 */
export function renderExplain(r: ExplainReport, opts: RenderOptions = {}): string {
  const width = Math.max(10, opts.width ?? 40);
  const maxDepth = opts.maxDepth ?? 3;
  const labelWidth = Math.max(20, opts.labelWidth ?? 56);
  const scale = r.totalMs > 0 ? width / r.totalMs : 0;
  const lines: string[] = [
    `total ${formatMs(r.totalMs)}${backgroundText(r.background)}`,
    '',
    `${'step'.padEnd(labelWidth)} |${'0'.padEnd(width - formatMs(r.totalMs).length)}${formatMs(r.totalMs)}|   start duration`,
  ];
  for (const row of r.rows.filter((x) => x.depth <= maxDepth)) {
    const name = `${'  '.repeat(row.depth)}${row.label}`;
    const cut = name.length > labelWidth ? `${name.slice(0, labelWidth - 1)}…` : name.padEnd(labelWidth);
    const from = Math.min(width - 1, Math.floor(row.startMs * scale));
    const dur = row.durationMs ?? r.spanMs - row.startMs;
    const want = Math.max(1, Math.round(dur * scale));
    const mark = row.outcome === 'error' ? 'x' : row.critical ? '#' : '=';
    const len = Math.min(want, width - from);
    const bar = ' '.repeat(from) + (want > len ? mark.repeat(len - 1) + '>' : mark.repeat(len));
    const d = row.durationMs === null ? 'running' : formatMs(row.durationMs);
    const flags = `${row.outcome === 'error' ? '  FAILED' : ''}${row.background ? '  (background)' : ''}`;
    lines.push(`${cut} |${bar.padEnd(width)}| ${`+${formatMs(row.startMs)}`.padStart(7)} ${d.padStart(8)}${flags}`);
  }
  lines.push('', 'critical path:');
  // Entries are indented two spaces per level: show them down to the waterfall's depth.
  for (const c of r.criticalPath) if ((c.length - c.trimStart().length) / 2 <= maxDepth) lines.push(`  ${c}`);
  lines.push('', 'diagnosis:');
  for (const d of r.diagnosis) lines.push(`  - ${d}`);
  return lines.join('\n');
}
