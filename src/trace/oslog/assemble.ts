/**
 * From records to operations: which lines belong to which attach or detach.
 *
 * 1. Request ids tie lines together. A record's `req-` id, its global request id, the id
 *    keystoneauth reports for a call (`… used request id req-…`) and the one in a response's
 *    headers are all one request: a union-find over them makes Nova's attach, cinder-api's
 *    request and cinder-volume's work one group, across files.
 * 2. An operation starts where Nova says so (`Attaching volume V to /dev/vdb`, `Detaching volume
 *    V`) and takes its request's group; without Nova (os-brick alone, or Cinder's own attaches for
 *    a backup) each `==> connect_volume: call` / `==> disconnect_volume: call` starts one.
 * 3. Lines with no request context (`[-]`): the commands os-brick runs through privsep are
 *    written by the privsep daemon, which has none. They belong to the operation whose os-brick
 *    call was running at that moment in the same file; when several were, to the one holding
 *    os-brick's host-wide `connect_volume` lock (only one can), else to the latest call.
 *    A command's two lines (`Running cmd` / `CMD … returned`) are paired first (same command
 *    text, first in first out) and placed together by the first.
 *
 * Every record ends in exactly one of three places: an operation, `unplaced` (about volumes —
 * a lock of os-brick, an iSCSI command, a Nova volume line — but with no operation to go to; or
 * no log record at all: a broken or foreign line), or `other` (the rest of a service's life).
 */
import type { EventOf, LogEvent } from './events.ts';
import { reprValue } from './parse/os-brick.ts';
import { programOf } from './parse/processutils.ts';
import { urlSubject } from './parse/rest.ts';
import type { InputLine, LogRecord } from './record.ts';

/** A record as the assembler reads it (its fields are filled on the way: `record.ts`). */
export type Rec = LogRecord;

export interface CmdPair {
  readonly command: string;
  readonly program: string;
  start: Rec | null;
  end: Rec | null;
  exitCode: number | null;
  /** processutils' own measure (`returned: N in S s`). */
  ms: number | null;
  /** processutils said `failed. Not Retrying.` (the exit code was not one the caller accepts). */
  failed: boolean;
  stderr: string | null;
  /** The program could not be started (processutils logged only the failure). */
  notRun?: boolean;
}

export type OperationKind = 'attach' | 'detach';

export interface Operation {
  id: number;
  readonly kind: OperationKind;
  /** Nova's view (an `Attaching volume`/`Detaching volume` line) or os-brick's alone. */
  readonly via: 'nova' | 'os-brick';
  volume: string | null;
  server: string | null;
  mountpoint: string | null;
  readonly group: string | null;
  readonly sources: Set<string>;
  readonly recs: Rec[];
  /** The first record (a seed) that made this operation. */
  readonly seed: Rec;
  /** When os-brick calls of this operation ran: [start, end] (end Infinity while open). */
  readonly brickWindows: [number, number][];
  /** When this operation held os-brick's `connect_volume` lock. */
  readonly lockWindows: [number, number][];
}

export interface Assembly {
  readonly operations: Operation[];
  readonly unplaced: { readonly source: string; readonly lineNo: number; readonly text: string }[];
  readonly lines: { readonly total: number; readonly placed: number; readonly unplaced: number; readonly other: number };
}

class UnionFind {
  readonly #parent = new Map<string, string>();
  find(x: string): string {
    let p = this.#parent.get(x) ?? x;
    if (p === x) return x;
    p = this.find(p);
    this.#parent.set(x, p);
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(rb, ra);
  }
}

const BRICK_FNS = new Set(['connect_volume', 'disconnect_volume', 'get_connector_properties', 'extend_volume', 'get_volume_paths']);
const VOLUME_PROGRAMS = new Set(['iscsiadm', 'multipath', 'multipathd', 'scsi_id', 'blockdev', 'lsblk', 'systool', 'sg_scan', 'nvme', 'dmsetup', 'tee', 'cat', 'findmnt']);

function isInstanceLockOp(by: string | null): boolean {
  return by !== null && /\b(do_reserve|do_attach_volume|do_detach_volume|attach_volume|detach_volume|reserve_block_device_name)\b/.test(by);
}

/** Is this record about volume attach/detach at all (so losing it would be worth saying)? */
export function aboutVolumes(r: { events: readonly LogEvent[]; logger: string; message: string }): boolean {
  for (const e of r.events) {
    switch (e.kind) {
      case 'lock.acquiring':
      case 'lock.acquired':
      case 'lock.released':
        if (e.lock === 'connect_volume' || isInstanceLockOp(e.by) || (e.by ?? '').startsWith('os_brick')) return true;
        break;
      case 'cmd.start':
      case 'cmd.end':
      case 'cmd.failed':
      case 'cmd.error':
        if (VOLUME_PROGRAMS.has(programOf(e.command))) return true;
        break;
      case 'rest.req':
      case 'rest.request-id':
        if (urlSubject(e.url).kind !== 'other') return true;
        break;
      case 'api.request':
        if (urlSubject(e.path).kind !== 'other' || e.path.includes('os-volume_attachments')) return true;
        break;
      case 'rest.resp':
      case 'traceback':
        break;
      case 'exception':
        if (/volume|iscsi|brick|multipath|attach/i.test(e.summary)) return true;
        break;
      default:
        return true;
    }
  }
  return r.logger.startsWith('os_brick') && r.events.length > 0;
}

function pairCommands(recs: Rec[]): CmdPair[] {
  const pairs: CmdPair[] = [];
  const open = new Map<string, CmdPair[]>();
  const lastEnded = new Map<string, CmdPair>();
  const key = (source: string, command: string): string => `${source}\u0000${command}`;
  for (const r of recs) {
    for (const e of r.events) {
      if (e.kind === 'cmd.start') {
        const p: CmdPair = { command: e.command, program: programOf(e.command), start: r, end: null, exitCode: null, ms: null, failed: false, stderr: null };
        pairs.push(p);
        const k = key(r.source, e.command);
        open.set(k, [...(open.get(k) ?? []), p]);
        r.cmd = p;
      } else if (e.kind === 'cmd.end') {
        const k = key(r.source, e.command);
        const q = open.get(k) ?? [];
        let p = q.shift();
        if (q.length === 0) open.delete(k);
        if (!p) {
          // The start is not in the input (a cut log): the end alone, its start from its measure.
          p = { command: e.command, program: programOf(e.command), start: null, end: null, exitCode: null, ms: null, failed: false, stderr: null };
          pairs.push(p);
        }
        p.end = r;
        p.exitCode = e.exitCode;
        p.ms = e.ms;
        r.cmd = p;
        lastEnded.set(k, p);
      } else if (e.kind === 'cmd.failed' || e.kind === 'cmd.error') {
        const k = key(r.source, e.command);
        let p = lastEnded.get(k);
        const q = open.get(k);
        if (e.kind === 'cmd.failed' && q?.length && (!p || (q[0]?.start?.seq ?? 0) > (p.end?.seq ?? 0))) {
          // It never ran (no such program): no `CMD … returned`, only the failure.
          p = q.shift() as CmdPair;
          if (q.length === 0) open.delete(k);
          p.end = r;
          p.ms = p.start ? r.ts - p.start.ts : 0;
          p.notRun = true;
          lastEnded.set(k, p);
        }
        if (p) {
          if (e.kind === 'cmd.failed') p.failed = true;
          else p.stderr = e.stderr;
          r.cmd = p;
        }
      }
    }
  }
  return pairs;
}

function volumeFromArgs(args: string): string | null {
  return reprValue(args, 'volume_id');
}

/**
 * Group the records (already in time order) into operations. `orphans` are input lines that
 * are not part of any record (before a file's first record, or foreign text).
 */
export function assemble(records: readonly LogRecord[], orphans: readonly InputLine[]): Assembly {
  const recs: Rec[] = records as Rec[];
  const uf = new UnionFind();
  for (const r of recs) {
    if (r.requestId && r.globalRequestId) uf.union(r.globalRequestId, r.requestId);
    if (!r.requestId) continue;
    for (const e of r.events) {
      if (e.kind === 'rest.request-id') uf.union(r.requestId, e.requestId);
      if (e.kind === 'rest.resp' && e.requestId) uf.union(r.requestId, e.requestId);
    }
  }
  for (const r of recs) r.group = r.requestId ? uf.find(r.requestId) : null;
  const cmds = pairCommands(recs);

  // Seeds, in time order.
  const operations: Operation[] = [];
  const novaByGroup = new Map<string, Operation[]>();
  const newOp = (seed: Rec, kind: OperationKind, via: 'nova' | 'os-brick'): Operation => {
    const op: Operation = { id: operations.length + 1, kind, via, volume: null, server: seed.instance, mountpoint: null, group: seed.group, sources: new Set([seed.source]), recs: [], seed, brickWindows: [], lockWindows: [] };
    operations.push(op);
    return op;
  };
  for (const r of recs) {
    for (const e of r.events) {
      // An attach can show up only as its failure (a log kept at ERROR, or cut): that starts it too.
      const failedAttach = e.kind === 'nova.attach-failed' && e.volume !== null && !novaByGroup.has(r.group ?? '');
      if ((e.kind === 'nova.attaching' || e.kind === 'nova.detaching' || failedAttach) && r.group) {
        const kind = e.kind === 'nova.detaching' ? 'detach' : 'attach';
        const list = novaByGroup.get(r.group) ?? [];
        if (list.some((o) => o.kind === kind && o.volume === e.volume)) continue;
        const op = newOp(r, kind, 'nova');
        op.volume = e.volume;
        op.mountpoint = e.mountpoint;
        novaByGroup.set(r.group, [...list, op]);
      }
    }
  }
  const brickByGroup = new Map<string, Operation[]>();
  const ungrouped: Operation[] = [];
  for (const r of recs) {
    for (const e of r.events) {
      if (e.kind !== 'brick.call' || (e.fn !== 'connect_volume' && e.fn !== 'disconnect_volume')) continue;
      if (r.group && novaByGroup.has(r.group)) continue;
      const op = newOp(r, e.fn === 'connect_volume' ? 'attach' : 'detach', 'os-brick');
      op.volume = volumeFromArgs(e.args);
      if (r.group) brickByGroup.set(r.group, [...(brickByGroup.get(r.group) ?? []), op]);
      else ungrouped.push(op);
    }
  }

  // A request whose log shows os-brick at work but no call (INFO-level logs carry no trace
  // lines): its first portal line starts a host-side connect.
  for (const r of recs) {
    if (!r.group || novaByGroup.has(r.group) || brickByGroup.has(r.group)) continue;
    if (r.events.some((e) => e.kind === 'portal.try' || e.kind === 'portal.login-failed')) brickByGroup.set(r.group, [newOp(r, 'attach', 'os-brick')]);
  }

  // Records with a request id: to the latest operation of their group started at or before them.
  const place = (r: Rec, op: Operation): void => {
    r.op = op;
    op.recs.push(r);
    op.sources.add(r.source);
  };
  const latestBefore = (ops: Operation[], r: Rec): Operation => {
    let pick = ops[0] as Operation;
    for (const o of ops) if (o.seed.seq <= r.seq || o.seed.ts <= r.ts) pick = o;
    return pick;
  };
  for (const r of recs) {
    if (!r.group) continue;
    const ops = novaByGroup.get(r.group) ?? brickByGroup.get(r.group);
    if (ops) place(r, latestBefore(ops, r));
  }
  for (const op of ungrouped) place(op.seed, op);

  // The os-brick windows and lock windows of each operation, from what is placed so far.
  const computeWindows = (op: Operation): void => {
    op.brickWindows.length = 0;
    op.lockWindows.length = 0;
    const openCalls: { fn: string; ts: number }[] = [];
    let lockFrom: number | null = null;
    const sorted = [...op.recs].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    for (const r of sorted) {
      for (const e of r.events) {
        if (e.kind === 'brick.call' && BRICK_FNS.has(e.fn)) openCalls.push({ fn: e.fn, ts: r.ts });
        if ((e.kind === 'brick.return' || e.kind === 'brick.raise') && BRICK_FNS.has(e.fn)) {
          const i = openCalls.map((c) => c.fn).lastIndexOf(e.fn);
          const call = i >= 0 ? openCalls.splice(i, 1)[0] : undefined;
          op.brickWindows.push([call?.ts ?? r.ts - e.ms, r.ts]);
        }
        if (e.kind === 'lock.acquired' && e.lock === 'connect_volume') lockFrom = r.ts;
        if (e.kind === 'lock.released' && e.lock === 'connect_volume') {
          op.lockWindows.push([lockFrom ?? r.ts - (e.heldMs ?? 0), r.ts]);
          lockFrom = null;
        }
      }
    }
    for (const c of openCalls) op.brickWindows.push([c.ts, Infinity]);
    if (lockFrom !== null) op.lockWindows.push([lockFrom, Infinity]);
  };
  for (const op of operations) computeWindows(op);

  // Records without a request id: by the os-brick call running then, in the same file. The
  // windows are indexed by start, per file: a query looks back only as far as the longest one.
  const inside = (w: [number, number][], ts: number): boolean => w.some(([a, b]) => a <= ts && ts <= b);
  const index = new Map<string, { starts: number[]; ops: Operation[]; longest: number }>();
  for (const o of operations) {
    for (const [a, b] of o.brickWindows) {
      for (const src of o.sources) {
        const e = index.get(src) ?? { starts: [], ops: [], longest: 0 };
        e.starts.push(a);
        e.ops.push(o);
        e.longest = Math.max(e.longest, b - a);
        index.set(src, e);
      }
    }
  }
  for (const e of index.values()) {
    const order = e.starts.map((_, i) => i).sort((i, j) => (e.starts[i] as number) - (e.starts[j] as number));
    e.starts = order.map((i) => e.starts[i] as number);
    e.ops = order.map((i) => e.ops[i] as Operation);
  }
  const candidatesAt = (source: string, ts: number): Operation[] => {
    const e = index.get(source);
    if (!e) return [];
    let lo = 0;
    let hi = e.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((e.starts[mid] as number) <= ts) lo = mid + 1;
      else hi = mid;
    }
    const out = new Set<Operation>();
    for (let i = lo - 1; i >= 0 && (e.starts[i] as number) >= ts - e.longest; i--) {
      const o = e.ops[i] as Operation;
      if (inside(o.brickWindows, ts)) out.add(o);
    }
    return [...out];
  };
  const chooseFor = (r: Rec): Operation | null => {
    const cands = candidatesAt(r.source, r.ts);
    if (cands.length === 0) return null;
    if (cands.length === 1) return cands[0] ?? null;
    const locked = cands.filter((o) => inside(o.lockWindows, r.ts));
    if (locked.length === 1) return locked[0] ?? null;
    const pool = locked.length > 1 ? locked : cands;
    return pool.reduce((a, b) => (latestCall(b, r.ts) > latestCall(a, r.ts) ? b : a));
  };
  const latestCall = (o: Operation, ts: number): number => Math.max(...o.brickWindows.filter(([a]) => a <= ts).map(([a]) => a), -Infinity);
  for (const p of cmds) {
    const first = p.start ?? p.end;
    if (!first || first.op || first.group) continue;
    const op = chooseFor(first);
    if (!op) continue;
    for (const r of [p.start, p.end]) if (r && !r.op) place(r, op);
  }
  // Lines that name the instance but no request (oslo.log's traceback lines carry only
  // `[instance: …]`): to that server's operation running then, give or take ten seconds.
  const NEAR_MS = 10_000;
  const byServer = new Map<string, { o: Operation; first: number; last: number }[]>();
  for (const o of operations) {
    if (!o.server || o.recs.length === 0) continue;
    let first = Infinity;
    let last = -Infinity;
    for (const x of o.recs) {
      first = Math.min(first, x.ts);
      last = Math.max(last, x.ts);
    }
    byServer.set(o.server, [...(byServer.get(o.server) ?? []), { o, first, last }]);
  }
  for (const r of recs) {
    if (r.op || r.group || !r.instance) continue;
    let best: Operation | null = null;
    let bestGap = Infinity;
    for (const { o, first, last } of byServer.get(r.instance) ?? []) {
      if (!o.sources.has(r.source)) continue;
      const gap = r.ts < first ? first - r.ts : r.ts > last ? r.ts - last : 0;
      if (gap <= NEAR_MS && gap < bestGap) {
        best = o;
        bestGap = gap;
      }
    }
    if (best) place(r, best);
  }
  for (const r of recs) {
    if (r.op || r.group) continue;
    if (r.cmd) {
      const other = r.cmd.start?.op ?? r.cmd.end?.op;
      if (other) {
        place(r, other);
        continue;
      }
    }
    const op = chooseFor(r);
    if (op) place(r, op);
  }

  // Facts every operation can know from its lines.
  for (const op of operations) {
    op.recs.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    for (const r of op.recs) {
      if (!op.server && r.instance) op.server = r.instance;
      for (const e of r.events) {
        if (!op.volume && e.kind === 'brick.call') op.volume = volumeFromArgs(e.args);
        if (!op.volume && e.kind === 'libvirt.attach' && e.serial) op.volume = e.serial;
        if (!op.volume && e.kind === 'rest.req' && urlSubject(e.url).kind === 'volumes') op.volume = urlSubject(e.url).id;
        if (!op.volume && e.kind === 'nova.api-attach') op.volume = e.volume;
        if (!op.server && e.kind === 'nova.api-attach') op.server = e.server;
      }
    }
  }

  // The accounting: every physical line in exactly one place.
  const unplaced: Assembly['unplaced'] = [];
  let placed = 0;
  let other = 0;
  for (const l of orphans) unplaced.push({ source: l.source, lineNo: l.lineNo, text: l.text });
  for (const r of recs) {
    if (r.op) placed += r.lineCount;
    else if (aboutVolumes(r)) r.lines.forEach((text, i) => unplaced.push({ source: r.source, lineNo: r.lineNo + i, text }));
    else other += r.lineCount;
  }
  unplaced.sort((a, b) => (a.source === b.source ? a.lineNo - b.lineNo : a.source < b.source ? -1 : 1));
  const kept = operations.filter((o) => o.recs.length > 0);
  kept.forEach((o, i) => (o.id = i + 1));
  return { operations: kept, unplaced, lines: { total: placed + unplaced.length + other, placed, unplaced: unplaced.length, other } };
}

export type { EventOf };
