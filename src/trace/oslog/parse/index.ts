/**
 * Every parser in turn on one record. A record is read by the parsers whose shape it can have
 * (cheap tests on the logger and the first character come before any regular expression), so
 * a day of a compute host's log is read in seconds.
 */
import type { LogEvent } from '../events.ts';
import type { LogRecord } from '../record.ts';
import { parseCinder } from './cinder.ts';
import { parseException } from './exception.ts';
import { parseLockutils } from './lockutils.ts';
import { parseNova } from './nova.ts';
import { parseOsBrick } from './os-brick.ts';
import { parseProcessutils } from './processutils.ts';
import { parseRest } from './rest.ts';

export function eventsOf(r: LogRecord): LogEvent[] {
  const msg = r.message;
  const out: LogEvent[] = [];
  const add = (e: LogEvent[]): void => {
    for (const x of e) out.push(x);
  };
  add(parseLockutils(msg));
  if (out.length) return out;
  add(parseProcessutils(msg));
  if (out.length) return out;
  add(parseOsBrick(msg));
  if (out.length) return out;
  add(parseRest(msg, r.logger));
  if (out.length) return out;
  add(parseNova(msg));
  if (out.length) return out;
  add(parseCinder(msg));
  if (out.length) return out;
  add(parseException(msg, r.level));
  return out;
}
