/**
 * Hitch's logs: JSON lines through pino at the configured level, one object per event, so a
 * log shipper can read them and one grep for a request id finds an attach end to end — its
 * request line, every step, every host command. `logFormat: pretty` (the default on a
 * terminal) prints the same events for a person: time, level, message, then the fields.
 *
 * Nothing secret is logged: the lines carry ids, names, routes and masked commands, never a
 * body, a token or a password; `redact` is the belt to those braces.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type { Logger };

/** Fields no line may carry, wherever they nest (a mistake elsewhere is masked, not written). */
const REDACT = ['password', 'token', 'auth_password', 'secret', '*.password', '*.token', '*.auth_password', '*.secret', 'headers["x-auth-token"]', 'headers["x-subject-token"]'];

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

/** One JSON line as a person reads it: `12:03:04.123 INFO  message  key=value …`. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = typeof o['time'] === 'number' ? new Date(o['time']).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[Number(o['level'])] ?? String(o['level'])).padEnd(5);
  const rest = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${level} ${String(o['msg'] ?? '')}${rest ? `  ${rest}` : ''}`;
}

/** A stream that turns pino's JSON lines into pretty ones on `out`. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const lines = (partial + String(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l) out.write(`${prettyLine(l)}\n`);
      done();
    },
  });
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go (default stdout). */
  readonly stream?: NodeJS.WritableStream;
  /** Fields on every line: the process's role, its compute host… */
  readonly base?: Record<string, string>;
}

export function createLogger(o: LoggerOptions): Logger {
  const out = o.stream ?? process.stdout;
  return pino(
    {
      level: o.level,
      base: { service: 'hitch', pid: process.pid, ...o.base },
      redact: { paths: REDACT, censor: '***' },
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (_label, number) => ({ level: number }) },
    },
    o.format === 'pretty' ? prettyStream(out) : out,
  );
}

/** The default format: pretty for a person at a terminal, JSON lines otherwise. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stdout): LogFormat {
  return stream.isTTY ? 'pretty' : 'json';
}

/** A logger that writes nothing (tests, `hitch scenario run`). */
export const silentLogger = (): Logger => pino({ level: 'silent' });
