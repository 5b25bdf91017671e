/**
 * One operation's lines → spans in Hitch's own vocabulary, so `explain` (waterfall, critical
 * path, diagnosis) reads them as it reads Hitch's traces:
 *
 *   attach  reserve · lock-instance · get-volume · connector-properties · initialize-connection ·
 *           connect-volume · hotplug · complete · unlock-instance   (and rollback after a failure)
 *   detach  unplug · connector-properties · disconnect-volume · detach-volume · unlock-instance
 *
 * Under connect-volume: os-brick's call (`connect_volume`), its wait for the host-wide lock
 * (`lock connect_volume`), one `connect_path` per portal attempt with its commands (`exec
 * iscsiadm`, exit code and all) and its `wait device`, and `wait multipath`. REST calls are
 * `block-storage METHOD /path` spans under their step; cinder-api's and cinder-volume's lines,
 * when given, go under the call they served.
 *
 * Times are the log's own: a span starts and ends on the timestamps of the lines that say so.
 * A step that no line ends (the libvirt hot-plug, a REST step) ends where its last child ended,
 * or where the next step began. A span whose end is not in the log (a cut file) stays running.
 */
import type { SpanAttrs, SpanOutcome, SpanRecord } from '../span.ts';
import type { Operation, Rec } from './assemble.ts';
import type { LogEvent } from './events.ts';
import { reprValue } from './parse/os-brick.ts';
import { templatePath, urlSubject } from './parse/rest.ts';

export type OperationOutcome = 'ok' | 'failed' | 'incomplete';

export interface BuiltTrace {
  readonly spans: SpanRecord[];
  readonly outcome: OperationOutcome;
  /** What went wrong, in the log's words (masked), when the outcome is `failed`. */
  readonly error: string | null;
  /** The last line's time: a span still open is sized up to here. */
  readonly lastMs: number;
}

const ATTACH_STEPS = ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance'];
const DETACH_STEPS = ['begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'unlock-instance'];

/** Steps whose end no line states: they end at their last child, or when the next step starts. */
const IMPLICIT = new Set(['reserve', 'get-volume', 'initialize-connection', 'hotplug', 'complete', 'begin-detaching', 'detach-volume', 'rollback', 'unplug']);

const EXCEPTION_CODES: Record<string, string> = {
  VolumeDeviceNotFound: 'HITCH_DEVICE_NOT_FOUND',
  VolumePathsNotFound: 'HITCH_DEVICE_NOT_FOUND',
  TargetPortalNotFound: 'HITCH_ISCSI_LOGIN_FAILED',
  TargetPortalsNotFound: 'HITCH_ISCSI_LOGIN_FAILED',
  FailedISCSITargetPortalLogin: 'HITCH_ISCSI_LOGIN_FAILED',
  ProcessExecutionError: 'HITCH_EXEC_FAILED',
  ExecutionTimeout: 'HITCH_EXEC_TIMEOUT',
  VolumePathNotRemoved: 'HITCH_DISCONNECT_FAILED',
  BlockDeviceReadOnly: 'HITCH_DEVICE_READ_ONLY',
  ClientException: 'HITCH_UPSTREAM_ERROR',
};

function codeOfException(text: string): string {
  const name = /([A-Za-z]\w*)(?:\(|:|$)/.exec(text.replace(/^(?:[a-z_]+\.)+/, ''))?.[1] ?? '';
  return EXCEPTION_CODES[name] ?? 'HITCH_INTERNAL';
}

function loginError(portal: string, exit: number | null): { code: string; message: string } {
  if (exit === 8) return { code: 'HITCH_ISCSI_LOGIN_TIMEOUT', message: `iSCSI login to ${portal} timed out (iscsiadm exit 8)` };
  if (exit === 24) return { code: 'HITCH_ISCSI_AUTH_FAILED', message: `iSCSI login to ${portal} was refused: authentication failed (iscsiadm exit 24)` };
  return { code: 'HITCH_ISCSI_LOGIN_FAILED', message: `iSCSI login to ${portal} failed${exit !== null ? ` (iscsiadm exit ${exit})` : ''}` };
}

const PORTAL_ARG = /(?:^|\s)(?:-p|--portal)\s+(\S+)/;

class Builder {
  readonly spans: SpanRecord[] = [];
  #next = 1;

  open(name: string, parent: SpanRecord | null, startMs: number, attrs: SpanAttrs = {}): SpanRecord {
    const s: SpanRecord = { id: this.#next++, parentId: parent?.id ?? null, name, startMs, endMs: null, outcome: 'running', attrs: { ...attrs } };
    this.spans.push(s);
    return s;
  }

  close(s: SpanRecord, endMs: number, outcome: SpanOutcome = 'ok', error?: { code: string; message: string }): void {
    if (s.endMs !== null) return;
    s.endMs = Math.max(endMs, s.startMs);
    s.outcome = outcome;
    if (error) s.error = error;
  }

  event(name: string, parent: SpanRecord | null, ts: number, attrs: SpanAttrs = {}): SpanRecord {
    const s = this.open(name, parent, ts, attrs);
    this.close(s, ts);
    return s;
  }

  /** The latest end among a span's descendants (or null when it has none that ended). */
  lastChildEnd(s: SpanRecord): number | null {
    let best: number | null = null;
    const ids = new Set([s.id]);
    for (const x of this.spans) {
      if (x.parentId !== null && ids.has(x.parentId)) {
        ids.add(x.id);
        if (x.endMs !== null && (best === null || x.endMs > best)) best = x.endMs;
      }
    }
    return best;
  }

  /** Close a span whose end no line states: at its last child's end, else at `fallback`. */
  settle(s: SpanRecord, fallback: number, outcome: SpanOutcome = 'ok', error?: { code: string; message: string }): void {
    const last = this.lastChildEnd(s);
    this.close(s, last ?? fallback, outcome, error);
  }

  isOpen(s: SpanRecord | null | undefined): s is SpanRecord {
    return !!s && s.endMs === null;
  }
}

/** Build the trace of one operation. */
export function buildTrace(op: Operation): BuiltTrace {
  const b = new Builder();
  const steps = op.kind === 'attach' ? ATTACH_STEPS : DETACH_STEPS;
  const tops: SpanRecord[] = [];
  const brick: { fn: string; span: SpanRecord }[] = [];
  const paths = new Map<string, SpanRecord>();
  const pathErrors = new Map<SpanRecord, { code: string; message: string; at: number }>();
  const waitDev = new Map<string, SpanRecord>();
  const rest: SpanRecord[] = [];
  const lockWaits = new Map<string, SpanRecord>();
  const cmdSpans = new Set<object>();
  let devWait: SpanRecord | null = null;
  let mpWait: SpanRecord | null = null;
  let privsep: SpanRecord | null = null;
  let failure: { at: number; message: string; code: string } | null = null;
  const failedSpans: SpanRecord[] = [];
  let exceptionAfterFailure: string | null = null;
  /** A line says the operation got where it was going (connect returned, disk plugged, lock released). */
  let done = false;
  let lastException: string | null = null;
  let lastMs = op.recs[0]?.ts ?? 0;

  const openTop = (): SpanRecord | null => [...tops].reverse().find((t) => t.endMs === null) ?? null;
  const current = (): SpanRecord | null => brick[brick.length - 1]?.span ?? openTop();
  const connectSpan = (): SpanRecord | null => [...brick].reverse().find((x) => x.fn === 'connect_volume' || x.fn === 'disconnect_volume')?.span ?? null;

  /** The top-level step of this name: the open one, or a new one (closing implicit ones first). */
  const step = (name: string, ts: number): SpanRecord => {
    const target = failure && name !== 'unlock-instance' ? 'rollback' : name;
    const open = tops.find((t) => t.name === target && t.endMs === null);
    if (open) return open;
    for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, ts);
    const n = steps.indexOf(target);
    const s = b.open(target, null, ts, n >= 0 ? { step: n + 1 } : {});
    tops.push(s);
    return s;
  };

  const fail = (at: number, message: string, code = 'HITCH_INTERNAL'): void => {
    if (!failure) failure = { at, message, code };
  };
  const failOpenSteps = (ts: number, message: string, code: string): void => {
    const open = tops.filter((t) => t.endMs === null && t.name !== 'rollback');
    for (const t of open) {
      b.settle(t, ts, 'error', { code, message });
      failedSpans.push(t);
    }
    if (open.length === 0 && !tops.some((t) => t.outcome === 'error')) {
      // The log shows the failure but not the step it happened in.
      const s = b.open(op.kind === 'attach' ? 'nova attach' : 'nova detach', null, op.recs[0]?.ts ?? ts);
      b.close(s, ts, 'error', { code, message });
      tops.push(s);
      failedSpans.push(s);
    }
  };
  /** Where os-brick's portal work goes: its connect call, or (INFO-level logs) a connect-volume step. */
  const portalParent = (ts: number): SpanRecord | null => connectSpan() ?? (op.kind === 'attach' && !failure ? step('connect-volume', ts) : current());

  const restStep = (method: string, url: string, action: string | null): string | null => {
    const subj = urlSubject(url);
    if (subj.kind === 'volumes') {
      if (method === 'GET' && !url.includes('/action')) return op.kind === 'attach' ? 'get-volume' : null;
      switch (action) {
        case 'os-reserve':
          return 'reserve';
        case 'os-initialize_connection':
          return op.kind === 'attach' ? 'initialize-connection' : 'connector-properties';
        case 'os-attach':
          return 'complete';
        case 'os-begin_detaching':
          return 'begin-detaching';
        case 'os-terminate_connection':
        case 'os-detach':
          return op.kind === 'detach' ? 'detach-volume' : 'rollback';
        case 'os-unreserve':
        case 'os-roll_detaching':
          return 'rollback';
        default:
          return null;
      }
    }
    if (subj.kind === 'attachments') {
      if (method === 'POST' && !subj.id) return op.kind === 'attach' ? 'reserve' : null;
      if (method === 'PUT') return op.kind === 'attach' ? 'initialize-connection' : null;
      if (method === 'POST' && action === 'os-complete') return 'complete';
      if (method === 'DELETE') return op.kind === 'detach' ? 'detach-volume' : 'rollback';
    }
    return null;
  };

  /** The smallest REST span (this operation's client side) whose time holds [from, to]. */
  const enclosingRest = (from: number, to: number): SpanRecord | null => {
    let best: SpanRecord | null = null;
    for (const s of b.spans) {
      if (!s.name.startsWith('block-storage ')) continue;
      const end = s.endMs ?? Infinity;
      if (s.startMs <= from + 1 && to <= end + 1 && (!best || end - s.startMs < (best.endMs ?? Infinity) - best.startMs)) best = s;
    }
    return best;
  };

  const addCommand = (r: Rec): void => {
    const p = r.cmd;
    if (!p || cmdSpans.has(p)) return;
    cmdSpans.add(p);
    const start = p.start?.ts ?? (p.end && p.ms !== null ? p.end.ts - p.ms : r.ts);
    const portal = PORTAL_ARG.exec(p.command)?.[1] ?? null;
    const parent = (portal && b.isOpen(paths.get(portal)) ? paths.get(portal) : null) ?? current();
    const attrs: SpanAttrs = { command: p.command, exitCode: p.exitCode };
    if (portal) attrs['portal'] = portal;
    if (/--rescan|\/scan$/.test(p.command)) attrs['rescan'] = true;
    const s = b.open(`exec ${p.program}`, parent, start, attrs);
    if (!p.end) return;
    if (p.notRun) {
      b.close(s, p.end.ts, 'error', { code: 'HITCH_EXEC_FAILED', message: `${p.program} could not be run` });
    } else if (p.exitCode === null) {
      b.close(s, p.end.ts, 'error', { code: 'HITCH_EXEC_TIMEOUT', message: `${p.program} reached its timeout after ${p.ms ?? '?'} ms` });
    } else if (p.failed) {
      const login = / --login\b/.test(p.command) && portal;
      const err = login ? loginError(portal, p.exitCode) : { code: 'HITCH_EXEC_FAILED', message: `exit code ${p.exitCode}${p.stderr ? `: ${p.stderr.split('\n')[0]}` : ''}` };
      b.close(s, p.end.ts, 'error', err);
    } else {
      b.close(s, p.end.ts, 'ok');
    }
  };

  const closePath = (portal: string, ts: number, outcome: SpanOutcome, error?: { code: string; message: string }): void => {
    const s = paths.get(portal);
    if (!b.isOpen(s)) return;
    const w = waitDev.get(portal);
    if (b.isOpen(w)) b.close(w, ts, outcome === 'ok' ? 'ok' : 'error', outcome === 'ok' ? undefined : { code: 'HITCH_DEVICE_NOT_FOUND', message: `no device for the LUN behind ${portal}` });
    b.close(s, ts, outcome, error);
  };

  /** Close what a returning os-brick call leaves open under it. */
  const settleUnder = (parent: SpanRecord, ts: number): void => {
    for (const [portal, s] of paths) {
      if (!b.isOpen(s)) continue;
      const err = pathErrors.get(s);
      if (err) closePath(portal, Math.max(err.at, b.lastChildEnd(s) ?? err.at), 'error', err);
      else b.settle(s, ts);
    }
    for (const w of [devWait, mpWait]) if (b.isOpen(w)) b.close(w, ts);
    for (const s of b.spans) if (s.endMs === null && s.parentId === parent.id && !s.name.startsWith('exec ')) b.settle(s, ts);
  };

  for (const r of op.recs) {
    lastMs = Math.max(lastMs, r.ts);
    if (r.cmd) addCommand(r);
    for (const e of r.events) handle(e, r);
    if (r.events.length === 0 && (r.level === 'WARNING' || r.level === 'ERROR')) b.event('log', current(), r.ts, { level: r.level.toLowerCase(), message: r.message.split('\n')[0] ?? '' });
  }

  function handle(e: LogEvent, r: Rec): void {
    const ts = r.ts;
    switch (e.kind) {
      case 'lock.acquiring': {
        if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) lockWaits.set(e.lock, b.open('lock', step('reserve', ts), ts, { lock: e.lock }));
        else if (e.by && /do_(attach|detach)_volume/.test(e.by)) lockWaits.set(e.lock, step('lock-instance', ts));
        else if (e.lock === 'connect_volume') lockWaits.set(e.lock, b.open('lock connect_volume', current(), ts, { lock: e.lock }));
        break;
      }
      case 'lock.acquired': {
        const w = lockWaits.get(e.lock);
        if (b.isOpen(w)) {
          w.attrs['waitedMs'] = e.waitedMs;
          b.close(w, ts);
        } else if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) {
          // Newton's lockutils wrote no `Acquiring` line: the step starts where the wait did.
          const s = step('reserve', ts - (e.waitedMs ?? 0));
          if (e.waitedMs) b.close(b.open('lock', s, ts - e.waitedMs, { lock: e.lock, waitedMs: e.waitedMs }), ts);
        } else if (e.by && /do_(attach|detach)_volume/.test(e.by) && e.waitedMs !== null) {
          const s = step('lock-instance', ts - e.waitedMs);
          s.attrs['waitedMs'] = e.waitedMs;
          b.close(s, ts);
        } else if (e.lock === 'connect_volume' && e.waitedMs) {
          const s = b.open('lock connect_volume', current(), ts - e.waitedMs, { lock: e.lock, waitedMs: e.waitedMs });
          b.close(s, ts);
        }
        lockWaits.delete(e.lock);
        break;
      }
      case 'lock.released': {
        if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) {
          const s = tops.find((t) => t.name === 'reserve' && t.endMs === null);
          if (s) b.close(s, ts);
        } else if (e.by && /do_(attach|detach)_volume/.test(e.by)) {
          for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, ts);
          const s = b.event('unlock-instance', null, ts, { step: steps.indexOf('unlock-instance') + 1, heldMs: e.heldMs });
          tops.push(s);
          done = true;
        } else if (e.lock === 'connect_volume') {
          const c = connectSpan();
          if (c) c.attrs['lockHeldMs'] = e.heldMs;
        }
        break;
      }
      case 'brick.call': {
        let span: SpanRecord;
        if (e.fn === 'get_connector_properties') {
          span = failure ? b.open('get_connector_properties', step('rollback', ts), ts) : step('connector-properties', ts);
        } else if (e.fn === 'connect_volume' && op.kind === 'attach' && !failure) {
          const outer = tops.find((t) => t.name === 'connect-volume' && t.endMs === null);
          span = outer ? b.open('connect_volume', outer, ts) : step('connect-volume', ts);
        } else if (e.fn === 'disconnect_volume' && op.kind === 'detach') {
          const outer = tops.find((t) => t.name === 'disconnect-volume' && t.endMs === null);
          span = outer ? b.open('disconnect_volume', outer, ts) : step('disconnect-volume', ts);
        } else {
          span = b.open(e.fn, current() ?? (failure ? step('rollback', ts) : null), ts);
        }
        const vol = reprValue(e.args, 'volume_id');
        if (vol) span.attrs['volume'] = vol;
        brick.push({ fn: e.fn, span });
        break;
      }
      case 'brick.return':
      case 'brick.raise': {
        const i = brick.map((x) => x.fn).lastIndexOf(e.fn);
        if (i < 0) break;
        const [{ span }] = brick.splice(i, 1) as [{ fn: string; span: SpanRecord }];
        settleUnder(span, ts);
        span.attrs['reportedMs'] = e.ms;
        if (e.kind === 'brick.return') {
          for (const k of ['path', 'scsi_wwn', 'multipath_id', 'type']) {
            const v = reprValue(e.result, k);
            if (v !== null) {
              span.attrs[k] = v;
              const top = tops.find((t) => t.name === 'connect-volume');
              if (top && top !== span && e.fn === 'connect_volume') top.attrs[k] = v;
            }
          }
          if (mpWait && mpWait.attrs['found'] === undefined) mpWait.attrs['found'] = reprValue(e.result, 'multipath_id') !== null;
          b.close(span, ts);
          if ((e.fn === 'connect_volume' && op.kind === 'attach') || (e.fn === 'disconnect_volume' && op.kind === 'detach')) done = true;
        } else {
          const err = { code: codeOfException(e.exception), message: `${e.fn} raised ${e.exception}` };
          b.close(span, ts, 'error', err);
          if (e.fn === 'connect_volume' || e.fn === 'disconnect_volume') fail(ts, err.message, err.code);
        }
        break;
      }
      case 'portal.try': {
        const prev = paths.get(e.portal);
        if (b.isOpen(prev)) {
          const err = pathErrors.get(prev);
          if (err) closePath(e.portal, err.at, 'error', err);
          else b.settle(prev, ts);
        }
        // A serial connector (Newton) logs in again inside its rescan-and-retry loop.
        paths.set(e.portal, b.open('connect_path', b.isOpen(devWait) ? devWait : portalParent(ts), ts, { portal: e.portal }));
        break;
      }
      case 'privsep.starting':
        privsep = b.open('privsep daemon start', current(), ts);
        break;
      case 'privsep.started':
        if (b.isOpen(privsep)) b.close(privsep, ts);
        break;
      case 'portal.retry': {
        const p = paths.get(e.portal);
        if (b.isOpen(p)) pathErrors.set(p, { code: 'HITCH_ISCSI_LOGIN_FAILED', message: `iscsiadm could not create the node record for ${e.portal}; os-brick tries again`, at: ts });
        break;
      }
      case 'portal.logged-in': {
        const p = paths.get(e.portal);
        if (b.isOpen(p)) waitDev.set(e.portal, b.open('wait device', p, ts, { portal: e.portal }));
        break;
      }
      case 'portal.device': {
        const portal = e.portal ?? [...paths].find(([, s]) => b.isOpen(s))?.[0] ?? null;
        if (!portal) break;
        const w = waitDev.get(portal);
        if (b.isOpen(w)) {
          w.attrs['path'] = `/dev/${e.device}`;
          b.close(w, ts);
        }
        const p = paths.get(portal);
        if (p) p.attrs['device'] = `/dev/${e.device}`;
        closePath(portal, ts, 'ok');
        break;
      }
      case 'portal.login-failed': {
        let p = paths.get(e.portal);
        if (!b.isOpen(p)) {
          // Its start is before this log begins: known only to have ended here.
          p = b.open('connect_path', portalParent(ts), ts, { portal: e.portal, startUnknown: true });
          paths.set(e.portal, p);
        }
        p.attrs['iqn'] = e.iqn;
        p.attrs['exitCode'] = e.exitCode;
        pathErrors.set(p, { ...loginError(e.portal, e.exitCode), at: ts });
        break;
      }
      case 'portal.failed':
      case 'portal.no-lun': {
        const p = paths.get(e.portal);
        if (!b.isOpen(p)) break;
        const err = pathErrors.get(p) ?? (e.kind === 'portal.no-lun' ? { code: 'HITCH_DEVICE_NOT_FOUND', message: `LUN ${e.lun} behind ${e.portal} did not appear after the login` } : { code: 'HITCH_ISCSI_LOGIN_FAILED', message: `could not connect to ${e.portal}` });
        closePath(e.portal, ts, 'error', { code: err.code, message: err.message });
        break;
      }
      case 'portal.none':
        b.event('log', current(), ts, { level: 'error', message: r.message });
        fail(ts, r.message, 'HITCH_ISCSI_LOGIN_FAILED');
        break;
      case 'device.missing': {
        // Newton's loop: rescan, log in again, look for the device; not a wait for udev alone.
        if (!b.isOpen(devWait)) devWait = b.open('rescan and retry', connectSpan() ?? current(), ts, { path: /'(\/dev\/[^']+)'/.exec(e.paths)?.[1] ?? e.paths });
        devWait.attrs['attempts'] = e.attempt + 1;
        break;
      }
      case 'device.found': {
        if (b.isOpen(devWait)) {
          devWait.attrs['rescans'] = e.rescans;
          b.close(devWait, ts);
        }
        break;
      }
      case 'device.wwn': {
        const c = connectSpan();
        if (c) c.attrs['scsi_wwn'] = e.wwn;
        break;
      }
      case 'multipath.wait': {
        if (!b.isOpen(mpWait)) mpWait = b.open('wait multipath', connectSpan() ?? current(), ts, e.wwn ? { wwn: e.wwn, path: `/dev/disk/by-id/dm-uuid-mpath-${e.wwn}` } : {});
        break;
      }
      case 'path.check': {
        if (!b.isOpen(mpWait) && /dm-uuid-mpath-|\/dev\/mapper\//.test(e.path)) mpWait = b.open('wait multipath', connectSpan() ?? current(), ts, { path: e.path });
        break;
      }
      case 'path.appeared':
      case 'multipath.found': {
        if (b.isOpen(mpWait) && (e.kind === 'multipath.found' || /dm-uuid-mpath-|\/dev\/mapper\//.test(e.path))) {
          mpWait.attrs['found'] = true;
          mpWait.attrs['path'] = e.path;
          b.close(mpWait, ts);
        }
        break;
      }
      case 'multipath.none':
      case 'multipath.fallback': {
        const w: SpanRecord | null = mpWait;
        if (w) {
          if (w.attrs['found'] === undefined || w.endMs === null) w.attrs['found'] = false;
          b.close(w, ts);
        }
        if (e.kind === 'multipath.fallback') {
          b.event('log', current(), ts, { level: 'debug', message: r.message });
          const top = tops.find((t) => t.name === 'connect-volume');
          if (top) top.attrs['path'] = e.path;
        } else {
          b.event('log', current(), ts, { level: 'warning', message: r.message });
        }
        break;
      }
      case 'nova.attaching':
      case 'nova.detaching':
        b.event('log', openTop(), ts, { level: 'info', message: r.message });
        if (e.kind === 'nova.detaching' && e.mountpoint) step('unplug', ts);
        break;
      case 'nova.brick': {
        if (e.what === 'connect') step('connect-volume', ts);
        else if (e.what === 'disconnect') step('disconnect-volume', ts);
        else {
          const t = tops.find((x) => x.name === (e.what === 'connected' ? 'connect-volume' : 'disconnect-volume') && x.endMs === null);
          if (t) b.close(t, ts);
          done = true;
        }
        break;
      }
      case 'nova.attachment-update':
        step('initialize-connection', ts).attrs['attachment'] = e.attachment;
        break;
      case 'libvirt.attach': {
        done = true;
        const s = step('hotplug', ts);
        if (e.target) s.attrs['target'] = e.target;
        if (e.source) s.attrs['source'] = e.source;
        break;
      }
      case 'libvirt.detach': {
        const s = step('unplug', ts);
        if (e.target) s.attrs['target'] = e.target;
        break;
      }
      case 'libvirt.detached': {
        const s = tops.find((t) => t.name === 'unplug' && t.endMs === null);
        if (s) {
          s.attrs[`detached_${e.config}`] = true;
          if (e.config === 'live') {
            b.close(s, ts);
            done = true;
          }
        }
        break;
      }
      case 'nova.attach-failed':
      case 'nova.detach-failed':
      case 'nova.cinder-failed': {
        if (failure) break;
        const message = r.message.split('\n')[0] ?? '';
        const code = e.kind === 'nova.cinder-failed' ? 'HITCH_UPSTREAM_ERROR' : 'HITCH_INTERNAL';
        failOpenSteps(ts, message, code);
        fail(ts, message, code);
        break;
      }
      case 'rest.req': {
        const name = restStep(e.method, e.url, e.action);
        const parent = name ? step(name, ts) : current();
        const path = templatePath(e.url);
        const s = b.open(`block-storage ${e.method} ${path}${e.action ? ` ${e.action}` : ''}`, parent, ts, { method: e.method, url: path, ...(e.action ? { action: e.action } : {}) });
        rest.push(s);
        break;
      }
      case 'rest.resp': {
        const s = rest.pop();
        if (!s) break;
        s.attrs['status'] = e.status;
        if (e.requestId) s.attrs['requestId'] = e.requestId;
        if (e.status >= 400) {
          b.close(s, ts, 'error', { code: 'HITCH_UPSTREAM_ERROR', message: `HTTP ${e.status} from ${s.name.replace(/^block-storage /, '')}` });
          if (s.parentId !== null && !b.spans.some((x) => x.id === s.parentId && x.name === 'rollback')) fail(ts, `HTTP ${e.status} from ${s.name.replace(/^block-storage /, '')}`, 'HITCH_UPSTREAM_ERROR');
        } else {
          b.close(s, ts);
          const parent = b.spans.find((x) => x.id === s.parentId);
          if (parent && ((op.kind === 'attach' && parent.name === 'complete') || (op.kind === 'detach' && parent.name === 'detach-volume'))) done = true;
        }
        break;
      }
      case 'rest.request-id': {
        const s = [...b.spans].reverse().find((x) => x.name.startsWith('block-storage ') && x.attrs['method'] === e.method);
        if (s) s.attrs['requestId'] = e.requestId;
        break;
      }
      case 'api.request': {
        const from = ts - Math.round(e.seconds * 1000);
        const service = /os-volume_attachments|\/servers\//.test(e.path) ? 'compute-api' : 'cinder-api';
        const s = b.open(`${service} ${e.method} ${templatePath(e.path)}`, service === 'cinder-api' ? enclosingRest(from, ts) : null, from, { status: e.status });
        b.close(s, ts, e.status >= 400 ? 'error' : 'ok', e.status >= 400 ? { code: 'HITCH_UPSTREAM_ERROR', message: `HTTP ${e.status}` } : undefined);
        break;
      }
      case 'cinder.step': {
        const s = b.event(`cinder-volume ${e.what}`, enclosingRest(ts, ts) ?? current(), ts, e.detail ? { detail: e.detail } : {});
        if (!e.ok) {
          s.outcome = 'error';
          s.error = { code: 'HITCH_UPSTREAM_ERROR', message: `${e.what}: ${e.detail ?? ''}`.trim() };
        }
        break;
      }
      case 'exception':
        lastException = e.summary.split('\n').pop() ?? e.summary;
        if (failure && !exceptionAfterFailure) exceptionAfterFailure = lastException;
        break;
      default:
        break;
    }
  }

  // The end of the log for this operation: settle what no line closed.
  const end = lastMs;
  const failed = failure as { at: number; message: string; code: string } | null;
  for (const [s, err] of pathErrors) if (s.endMs === null) b.close(s, Math.max(err.at, b.lastChildEnd(s) ?? err.at), 'error', { code: err.code, message: err.message });
  if (failed) {
    // Innermost first, so a parent ends no earlier than what ran under it.
    for (const s of [...b.spans].reverse()) {
      if (s.endMs !== null || s.name.startsWith('exec ')) continue;
      if (s.name === 'rollback') b.settle(s, Math.max(failed.at, s.startMs));
      else b.close(s, Math.max(failed.at, b.lastChildEnd(s) ?? failed.at), 'error', { code: failed.code, message: failed.message });
    }
  }
  for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, end);
  const running = tops.some((t) => t.endMs === null);
  const outcome: OperationOutcome = failed ? 'failed' : running || !done ? 'incomplete' : 'ok';
  // The exception logged with the failure (the traceback's last line) says why.
  const why = exceptionAfterFailure as string | null;
  if (failed && why && !failed.message.includes(why)) {
    failed.message = `${failed.message}: ${why}`;
    for (const s of failedSpans) if (s.error) s.error = { ...s.error, message: `${s.error.message}: ${why}` };
  }
  const error = failed ? failed.message : null;
  return { spans: b.spans, outcome, error, lastMs: end };
}
