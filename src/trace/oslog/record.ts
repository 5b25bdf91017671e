/**
 * oslo.log records: the header every OpenStack service writes in front of a message, and the
 * grouping of physical lines into records (a message can span lines: libvirt's disk XML, a
 * cinderclient response body; a traceback is one record per line, each with its own header).
 *
 * Formats read (oslo.log's defaults since Newton, and the same line behind a syslog/journald
 * prefix as devstack and journalctl print it):
 *
 *   2017-03-14 10:12:23.123 4242 DEBUG os_brick.initiator.connectors.iscsi [req-0e77bf32-a29b-40d1-b359-9e115435a94a 294c5c61 5b4c1d21 - default default] [instance: 62b302e5-6d95-4e61-8dd4-6aa8b1049545] message funcName /path/to/file.py:123
 *   2023-08-18 14:54:40.796 3883246 INFO nova.compute.manager [None req-bd4be9d8-1259-45da-8cbc-8404ec3b0af9 cc03bca4 e6f5006e - - faaa5f3a faaa5f3a] [instance: b6d86451-8ad3-4224-ac3a-b23e146f3e64] Attaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5 to /dev/vdd
 *   2019-10-07 16:11:52.789 28347 ERROR os_brick.initiator.connectors.iscsi [req-1f65b818-108d-41cb-9ea1-ca18761a673f - - - - -] Could not login to any iSCSI portal.
 *   2017-05-12 08:31:27.033 15969 ERROR nova.compute.manager [instance: 1a8a00fb-94b6-4109-ae58-f44291626a46] Traceback (most recent call last):
 *   Mar 05 12:00:00.123456 host nova-compute[1234]: DEBUG os_brick.initiator.connectors.iscsi [None req-… admin admin] message {{(pid=1234) connect_volume /opt/stack/os-brick/os_brick/initiator/connectors/iscsi.py:503}}
 *
 * The context in brackets is `[global_request_id request_id user_identity]` (Pike and later) or
 * `[request_id user_identity]` (before): with two `req-` ids the first is the global one. Times
 * carry no zone (oslo.log writes local time); they are read as given, which is all a duration
 * needs. A journald line has no year: 2000 is assumed (a leap year, so 29 Feb parses).
 */

import type { CmdPair, Operation } from './assemble.ts';
import type { LogEvent } from './events.ts';
import { eventsOf } from './parse/index.ts';

export type Level = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'TRACE' | 'AUDIT';

/** One physical line of input, before parsing. */
export interface InputLine {
  /** The file it came from (`-` for stdin). */
  readonly source: string;
  /** 1-based line number in that file. */
  readonly lineNo: number;
  readonly text: string;
}

export interface LogRecord {
  /** Index in input order (stable across files merged by time). */
  readonly seq: number;
  readonly source: string;
  readonly lineNo: number;
  /** Physical lines this record spans (1 + continuation lines). */
  lineCount: number;
  /** Milliseconds on the log's own clock (no zone), to the millisecond of the header. */
  readonly ts: number;
  /** The timestamp as written, for display ('' when the record was compacted: `timeOf`). */
  readonly time: string;
  readonly pid: number | null;
  readonly level: Level;
  /** The Python logger name: `os_brick.initiator.connectors.iscsi`, `nova.compute.manager`. */
  readonly logger: string;
  /** `req-…` of the request this line was logged for, or null (`[-]`). */
  readonly requestId: string | null;
  /** The request id of the request that started it all (oslo.context's global_request_id). */
  readonly globalRequestId: string | null;
  /** The instance uuid from `[instance: …]`, or null. */
  readonly instance: string | null;
  /** The message, continuation lines joined with `\n`, without the debug suffix. */
  message: string;
  /** `funcName path:line` from the DEBUG suffix, when present. */
  origin: string | null;
  /**
   * The physical lines as read (already masked), for `--verbose`. Kept only for a record that
   * says something (`events`): a record that says nothing can never be unplaced, and a day of
   * periodic tasks need not be held twice.
   */
  lines: string[];
  /** What it says (`parse/`), filled when the record is complete. */
  events: readonly LogEvent[];
  /** Filled by the assembler: its request group, its operation, its command pair. */
  group: string | null;
  op: Operation | null;
  cmd: CmdPair | null;
}

const LEVELS = 'DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|TRACE|AUDIT';
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

// `2017-03-14 10:12:23.123 4242 DEBUG name rest` (pid optional: Havana-era lines had none).
const OSLO = new RegExp(`^(\\d{4})-(\\d\\d)-(\\d\\d)[ T](\\d\\d):(\\d\\d):(\\d\\d)(?:[.,](\\d{1,6}))?(?:[+-]\\d\\d:?\\d\\d|Z)? +(?:(\\d+) +)?(${LEVELS}) +(\\S+)(?: (.*))?$`);
// journald / syslog prefix: `Mar 05 12:00:00[.123456] host prog[pid]: `, then either a whole
// oslo.log line or oslo.log's journal form `LEVEL name rest`.
const SYSLOG = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? \S+ [\w.@/-]+(?:\[(\d+)\])?: +(.*)$/;
// RFC 3339 syslog prefix: `2024-03-05T12:00:00.123456+00:00 host prog[pid]: `.
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:[+-]\d\d:\d\d|Z) \S+ [\w.@/-]+(?:\[(\d+)\])?: +(.*)$/;
const BARE = new RegExp(`^(${LEVELS}) +(\\S+)(?: (.*))?$`);

const REQ = /req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const INSTANCE = /^\[instance: ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\] ?/;
// ` funcName /path/file.py:123` (oslo.log's logging_debug_format_suffix) or devstack's `{{(pid=N) funcName path:N}}`.
const SUFFIX = /(?: \{\{\(pid=\d+\) (\S+ \S+:\d+)\}\}| ([\w<>.]+ \/\S+\.py:\d+))$/;

export interface Header {
  readonly ts: number;
  readonly time: string;
  readonly pid: number | null;
  readonly level: Level;
  readonly logger: string;
  /** Everything after the logger name: context, instance, message. */
  readonly rest: string;
}

function ms(frac: string | undefined): number {
  return frac ? Math.floor(Number(frac.padEnd(3, '0').slice(0, 3))) : 0;
}

function level(l: string): Level {
  return (l === 'WARN' ? 'WARNING' : l) as Level;
}

/** Parse a line's header, or null when the line does not start a record. */
export function parseHeader(line: string): Header | null {
  const c = line.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const m = OSLO.exec(line);
    if (m) {
      const [, y, mo, d, h, mi, s, frac, pid, lvl, logger, rest] = m;
      const ts = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms(frac));
      if (Number.isNaN(ts)) return null;
      return { ts, time: `${y}-${mo}-${d} ${h}:${mi}:${s}.${String(ms(frac)).padStart(3, '0')}`, pid: pid ? Number(pid) : null, level: level(lvl ?? ''), logger: logger ?? '', rest: rest ?? '' };
    }
    const r = RFC3339.exec(line);
    if (!r) return null;
    const [, y, mo, d, h, mi, s, frac, pid, body] = r;
    return fromPrefixed(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms(frac)), `${y}-${mo}-${d} ${h}:${mi}:${s}.${String(ms(frac)).padStart(3, '0')}`, pid, body ?? '');
  }
  if (c >= 65 && c <= 90) {
    const m = SYSLOG.exec(line);
    if (!m) return null;
    const [, mon, d, h, mi, s, frac, pid, body] = m;
    const month = MONTHS[mon ?? ''];
    if (month === undefined) return null;
    const ts = Date.UTC(2000, month, Number(d), Number(h), Number(mi), Number(s), ms(frac));
    return fromPrefixed(ts, `${mon} ${(d ?? '').padStart(2, '0')} ${h}:${mi}:${s}.${String(ms(frac)).padStart(3, '0')}`, pid, body ?? '');
  }
  return null;
}

/** After a syslog prefix: a whole oslo.log line (its own, finer time wins) or `LEVEL name rest`. */
function fromPrefixed(ts: number, time: string, pid: string | undefined, body: string): Header | null {
  if (Number.isNaN(ts)) return null;
  const inner = OSLO.exec(body) ? parseHeader(body) : null;
  if (inner) return inner;
  const b = BARE.exec(body);
  if (!b) return null;
  const [, lvl, logger, rest] = b;
  return { ts, time, pid: pid ? Number(pid) : null, level: level(lvl ?? ''), logger: logger ?? '', rest: rest ?? '' };
}

interface Context {
  readonly requestId: string | null;
  readonly globalRequestId: string | null;
  readonly instance: string | null;
  readonly message: string;
}

/** Split `[ctx] [instance: …] message` into its parts. */
export function parseContext(rest: string): Context {
  let requestId: string | null = null;
  let globalRequestId: string | null = null;
  let body = rest;
  if (body.startsWith('[') && !INSTANCE.test(body)) {
    const close = body.indexOf(']');
    if (close > 0) {
      const ctx = body.slice(1, close);
      const ids = ctx.match(REQ) ?? [];
      if (ids.length >= 2) {
        globalRequestId = ids[0] ?? null;
        requestId = ids[1] ?? null;
      } else if (ids.length === 1) {
        requestId = ids[0] ?? null;
      }
      body = body.slice(close + 1).replace(/^ /, '');
    }
  }
  let instance: string | null = null;
  const im = INSTANCE.exec(body);
  if (im) {
    instance = im[1] ?? null;
    body = body.slice(im[0].length);
  }
  return { requestId, globalRequestId, instance, message: body };
}

/** Take the DEBUG suffix off a message's last line. */
export function splitOrigin(message: string): { message: string; origin: string | null } {
  const m = SUFFIX.exec(message);
  if (!m) return { message, origin: null };
  return { message: message.slice(0, m.index).replace(/\s+$/, ''), origin: m[1] ?? m[2] ?? null };
}

/**
 * Groups physical lines into records. Lines that do not start a record continue the previous
 * one (oslo.log writes a multi-line message as is); lines before any record are orphans.
 */
export class RecordAssembler {
  #seq = 0;
  #open: LogRecord | null = null;
  #openRaw: string[] = [];
  readonly #emit: (r: LogRecord) => void;
  readonly #orphan: (l: InputLine) => void;

  constructor(emit: (r: LogRecord) => void, orphan: (l: InputLine) => void) {
    this.#emit = emit;
    this.#orphan = orphan;
  }

  push(l: InputLine): void {
    const h = parseHeader(l.text);
    if (h) {
      this.flush();
      const ctx = parseContext(h.rest);
      this.#open = {
        seq: this.#seq++,
        source: l.source,
        lineNo: l.lineNo,
        lineCount: 1,
        ts: h.ts,
        time: h.time,
        pid: h.pid,
        level: h.level,
        logger: h.logger,
        requestId: ctx.requestId,
        globalRequestId: ctx.globalRequestId,
        instance: ctx.instance,
        message: ctx.message,
        origin: null,
        lines: [l.text],
        events: [],
        group: null,
        op: null,
        cmd: null,
      };
      this.#openRaw = [ctx.message];
      return;
    }
    if (!this.#open || this.#open.source !== l.source) {
      this.#orphan(l);
      return;
    }
    this.#open.lineCount++;
    this.#open.lines.push(l.text);
    this.#openRaw.push(l.text);
  }

  /**
   * A record that says nothing keeps only what the assembler reads of it: its time, request,
   * instance and size (and its message when it is a warning or an error, shown in a trace). Its
   * strings are copied out of the line (a slice would keep the whole line alive), through a
   * table so each request id is held once: a day of periodic tasks costs little.
   */
  #compact(r: LogRecord): void {
    r.lines = [];
    if (r.level === 'DEBUG' || r.level === 'INFO' || r.level === 'AUDIT') {
      r.message = '';
      r.origin = null;
      (r as { time: string }).time = '';
    }
    const mut = r as { logger: string; requestId: string | null; globalRequestId: string | null; instance: string | null };
    mut.logger = this.#intern(r.logger) ?? '';
    mut.requestId = this.#intern(r.requestId);
    mut.globalRequestId = this.#intern(r.globalRequestId);
    mut.instance = this.#intern(r.instance);
  }

  readonly #strings = new Map<string, string>();
  #intern(s: string | null): string | null {
    if (s === null) return null;
    let v = this.#strings.get(s);
    if (v === undefined) {
      v = [...s].join('');
      this.#strings.set(v, v);
    }
    return v;
  }

  /** End the record being read (end of a file). */
  flush(): void {
    const r = this.#open;
    if (!r) return;
    const { message, origin } = splitOrigin(this.#openRaw.join('\n').replace(/\s+$/, ''));
    r.message = message;
    r.origin = origin;
    r.events = eventsOf(r).filter(worthKeeping);
    if (r.events.length === 0) this.#compact(r);
    this.#open = null;
    this.#openRaw = [];
    this.#emit(r);
  }
}

/** A record's time for display: as written, or (a compacted record) from its milliseconds. */
export function timeOf(r: LogRecord): string {
  return r.time || new Date(r.ts).toISOString().replace('T', ' ').replace(/Z$/, '');
}

/**
 * A lock line matters when the lock is os-brick's or Nova's around a volume operation (the
 * instance lock of reserve/attach/detach); the rest (the resource tracker's every minute, a
 * cache's) says nothing about attaches, and the record is kept as one that says nothing.
 */
function worthKeeping(e: LogEvent): boolean {
  if (e.kind !== 'lock.acquiring' && e.kind !== 'lock.acquired' && e.kind !== 'lock.released') return true;
  return e.lock === 'connect_volume' || (e.by !== null && (/^os_brick\./.test(e.by) || /\b(do_reserve|do_attach_volume|do_detach_volume|reserve_block_device_name)\b/.test(e.by)));
}
