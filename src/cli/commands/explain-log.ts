/**
 * `hitch explain --log FILE…`: the waterfall, critical path and diagnosis of the attaches and
 * detaches in OpenStack's own logs (nova-compute with os-brick, nova-api, cinder-api,
 * cinder-volume; gzip or not; `-` for standard input). Without a filter, one line per operation,
 * slowest first; with one, the full report of each operation it matches.
 *
 * Loaded only when `--log` is given: the log reader and its parsers stay out of every other
 * command's start-up.
 */
import { HitchError } from '../../errors.ts';
import { formatMs, renderExplain } from '../../trace/explain.ts';
import { exactTotal, parseLogTime, readLogs, selectOperations, type LogFilter, type LogOperationSummary, type LogReading } from '../../trace/oslog/index.ts';
import type { CliContext } from '../context.ts';
import { json, table } from '../format.ts';

export interface ExplainLogOptions {
  readonly volume?: string;
  readonly server?: string;
  readonly requestId?: string;
  readonly since?: string;
  readonly until?: string;
  readonly verbose?: boolean;
  readonly json?: boolean;
  readonly depth: string;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function linesLine(r: LogReading): string {
  const l = r.lines;
  return `${plural(l.total, 'line')}: ${l.placed} in them, ${l.other} about other work, ${l.unplaced} unplaced${l.unplaced ? ' (--verbose lists them)' : ''}`;
}

function headline(s: LogOperationSummary): string {
  const subject = `${s.kind} of volume ${s.volume ?? '(unknown)'}${s.server ? ` ${s.kind === 'attach' ? 'to' : 'from'} server ${s.server}` : ''}`;
  return `${subject}: ${s.outcome}, ${formatMs(s.durationMs)} (${exactTotal(s)})${s.requestId ? ` (${s.requestId})` : ''} in ${s.sources.join(', ')}${s.error ? `\n  error: ${s.error}` : ''}`;
}

export async function runExplainLog(ctx: CliContext, files: readonly string[], o: ExplainLogOptions): Promise<void> {
  const filter: LogFilter = {
    ...(o.volume ? { volume: o.volume } : {}),
    ...(o.server ? { server: o.server } : {}),
    ...(o.requestId ? { requestId: o.requestId } : {}),
    ...(o.since ? { sinceMs: parseLogTime(o.since) } : {}),
    ...(o.until ? { untilMs: parseLogTime(o.until) } : {}),
  };
  const filtered = Object.keys(filter).length > 0;
  const reading = await readLogs(files, ctx.io.stdin ? { stdin: ctx.io.stdin } : {});
  const ops = selectOperations(reading, filter);
  const depth = Number.isInteger(Number(o.depth)) ? Number(o.depth) : 2;

  if (o.json) {
    const operations = filtered ? ops.map((x) => ({ ...x.summary, report: x.report })) : ops.map((x) => x.summary);
    ctx.io.out(json({ sources: reading.sources, lines: reading.lines, operations, ...(o.verbose ? { unplaced: reading.unplaced } : {}) }));
    return;
  }
  const where = reading.sources.join(', ');
  if (filtered) {
    if (ops.length === 0) throw new HitchError('HITCH_LOG_NO_MATCH', { sources: where, filter: describe(o) });
    ops.forEach((x, i) => {
      if (i > 0) ctx.io.out('');
      ctx.io.out(headline(x.summary));
      ctx.io.out(renderExplain(x.report, { maxDepth: depth, width: 50, labelWidth: 56 }));
    });
  } else {
    ctx.io.out(`${plural(ops.length, 'attach or detach', 'attaches and detaches')} in ${where} (${linesLine(reading)})`);
    if (ops.length > 0) {
      ctx.io.out('');
      ctx.io.out(
        table(
          ['DURATION', 'KIND', 'OUTCOME', 'VOLUME', 'SERVER', 'START', 'REQUEST'],
          ops.map(({ summary: s }) => [formatMs(s.durationMs).padStart(8), s.kind, s.outcome, s.volume ?? '-', s.server ?? '-', s.start, s.requestId ?? '-']),
        ),
      );
      ctx.io.out('');
      ctx.io.out(`the waterfall of one: hitch explain --log ${files.join(' ')} --volume ID (or --server, --request-id, --since/--until)`);
    }
  }
  if (o.verbose) {
    ctx.io.out('');
    ctx.io.out(`unplaced lines (${reading.unplaced.length}):`);
    for (const u of reading.unplaced) ctx.io.out(`  ${u.source}:${u.lineNo}: ${u.text}`);
  }
}

function describe(o: ExplainLogOptions): string {
  return [o.volume && `--volume ${o.volume}`, o.server && `--server ${o.server}`, o.requestId && `--request-id ${o.requestId}`, o.since && `--since ${o.since}`, o.until && `--until ${o.until}`].filter(Boolean).join(' ');
}
