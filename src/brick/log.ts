/**
 * Brick's log lines, in the seed's words (`Trying to connect to iSCSI portal 192.168.1.60:3260`,
 * `connect_volume: return (3162ms) {…}`). They go to an optional callback and, as `log` events,
 * into the caller's trace; never to the console. Secrets are masked before either sees them.
 */
import type { Span } from '../trace/span.ts';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  /** Host clock time (virtual on the simulator). */
  readonly timeMs: number;
}

export type BrickLogger = (line: LogLine) => void;

export const MASK = '***';

/** Replace every secret in `text` with `***`. */
export function maskSecrets(text: string, secrets: readonly string[] | undefined): string {
  if (!secrets) return text;
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(MASK);
  return out;
}

export function emitLog(
  span: Span,
  logger: BrickLogger | undefined,
  level: LogLevel,
  message: string,
  secrets?: readonly string[],
): void {
  const masked = maskSecrets(message, secrets);
  span.event('log', { level, message: masked });
  logger?.({ level, message: masked, timeMs: span.now() });
}
