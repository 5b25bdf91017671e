/**
 * `hitch explain --log`: the seed's analysis, from the logs of a cloud that does not run Hitch.
 *
 * ```ts
 * const result = await readLogs(['nova-compute.log', 'cinder-volume.log.gz'], { stdin: process.stdin });
 * for (const o of selectOperations(result, { volume: '5ed0cc5c' })) console.log(o.summary, o.report);
 * ```
 *
 * Read (masked as read: `input.ts`) → records (`record.ts`) → events (`parse/`) → operations
 * (`assemble.ts`) → spans (`spans.ts`) → `explain()`, the same report Hitch gives of its own
 * attaches, plus what a foreign log adds (`diagnose.ts`).
 */
import type { Readable } from 'node:stream';
import { HitchError } from '../../errors.ts';
import { readSource } from './input.ts';
import { fromRecords, type LogReading } from './reading.ts';
import { RecordAssembler, type InputLine, type LogRecord } from './record.ts';

export { exactTotal, logTime, parseLogTime, readLogText, selectOperations, type LogFilter, type LogOperation, type LogOperationSummary, type LogReading } from './reading.ts';

/** Read every source (`-` = stdin), in order; records of all sources merged by time. */
export async function readLogs(sources: readonly string[], opts: { stdin?: Readable } = {}): Promise<LogReading> {
  if (sources.length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'explain --log needs at least one file (or - for standard input)' });
  const perSource: LogRecord[][] = [];
  const orphans: InputLine[] = [];
  let seqBase = 0;
  for (const src of sources) {
    const records: LogRecord[] = [];
    const asm = new RecordAssembler((r) => records.push(Object.assign(r, { seq: r.seq + seqBase })), (l) => orphans.push(l));
    for await (const line of readSource(src, opts.stdin)) asm.push(line);
    asm.flush();
    seqBase += records.length;
    perSource.push(records);
  }
  return fromRecords(perSource.flat().sort((a, b) => a.ts - b.ts || a.seq - b.seq), orphans, sources);
}

