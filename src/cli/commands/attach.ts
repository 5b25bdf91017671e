/** `hitch attach`, `detach`, `attachments` and `explain`: the attach path and its trace. */
import type { Command } from 'commander';
import { ERROR_CATALOG, HitchError, type ErrorCode } from '../../errors.ts';
import { explain, formatMs, renderExplain, type ExplainReport } from '../../trace/explain.ts';
import type { CliContext } from '../context.ts';
import { json, table } from '../format.ts';
import { PlainProgress, TtyProgress } from '../progress.ts';
import { findServer, findVolume, getOperation, getRecentNormal, listAttachments, listOperations, listVolumes, toSpanRecords, type ApiOperation } from '../resources.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The error an operation ended with, as a HitchError with its catalog code. */
export function operationError(op: ApiOperation): HitchError {
  const code = op.error?.code && op.error.code in ERROR_CATALOG ? (op.error.code as ErrorCode) : 'HITCH_INTERNAL';
  const what = `${op.kind} rolled back at step ${op.step ?? '?'}`;
  return new HitchError(code, {}, { message: `${what}: ${op.error?.message ?? 'unknown error'}` });
}

/** Poll the operation until it ends, drawing progress; bounded by `timeoutS` of wall time. */
async function follow(ctx: CliContext, opId: string, timeoutS: number): Promise<ApiOperation> {
  const tty = ctx.io.tty;
  const view = tty ? new TtyProgress(tty) : new PlainProgress(ctx.io.out);
  const deadline = Date.now() + timeoutS * 1000;
  const shown = new Set<number>();
  for (;;) {
    const op = await getOperation(ctx.client, opId);
    if (ctx.globals.debug) {
      // `--debug`: the host commands the step ran, as they finish (secrets are masked at the source).
      for (const s of op.spans) {
        if (!s.name.startsWith('exec ') || s.end_ms === null || shown.has(s.id)) continue;
        shown.add(s.id);
        ctx.io.err(`CMD: ${String(s.attrs['command'] ?? s.name.slice(5))} → exit ${String(s.attrs['exitCode'] ?? '?')} (${formatMs(s.end_ms - s.start_ms)})`);
      }
    }
    view.update(op, ctx.client.clockMs ?? op.ended_ms ?? op.started_ms);
    if (op.state !== 'running') return op;
    if (Date.now() > deadline) {
      throw new HitchError('HITCH_CONFLICT', { reason: `operation ${opId} still running after ${timeoutS} s; follow it with: hitch explain ${opId}` });
    }
    await new Promise((r) => setTimeout(r, tty ? 100 : 200));
  }
}

function layout(ctx: CliContext): { width: number; labelWidth: number } {
  const cols = ctx.io.tty?.columns ?? 120;
  const labelWidth = Math.max(30, Math.min(56, Math.floor(cols * 0.45)));
  return { labelWidth, width: Math.max(10, Math.min(60, cols - labelWidth - 32)) };
}

function opReport(op: ApiOperation, nowMs?: number): ExplainReport {
  return explain(toSpanRecords(op.spans), nowMs);
}

export function registerAttachCommands(program: Command, ctx: CliContext): void {
  program
    .command('attach')
    .description('attach a volume to a server, showing each step as it runs')
    .argument('<server>', 'server name or id')
    .argument('<volume>', 'volume name or id')
    .option('--device <path>', 'device name to ask for, e.g. /dev/vdc (default: the next free one)')
    .option('--no-wait', 'return once the device is reserved; do not follow the steps')
    .option('--timeout <seconds>', 'stop following after this many seconds', '600')
    .action(async (sref: string, vref: string, o: { device?: string; wait: boolean; timeout: string }) => {
      const s = await findServer(ctx.client, sref);
      const v = await findVolume(ctx.client, vref);
      const r = await ctx.client.call<{ volumeAttachment: { device: string } }>('compute', 'POST', `/servers/${s.id}/os-volume_attachments`, {
        volumeAttachment: { volumeId: v.id, ...(o.device ? { device: o.device } : {}) },
      });
      const opId = r.headers.get('x-hitch-operation-id');
      const device = r.body.volumeAttachment.device;
      ctx.io.out(`attaching ${v.name ?? v.id} to ${s.name} at ${device} (operation ${opId ?? '?'})`);
      if (!o.wait || !opId) return;
      const op = await follow(ctx, opId, Number(o.timeout) || 600);
      if (op.state !== 'done') throw operationError(op);
      const rep = opReport(op, ctx.client.clockMs ?? undefined);
      ctx.io.out(`attached ${v.name ?? v.id} to ${s.name} at ${device} in ${formatMs(rep.totalMs)}`);
      for (const d of rep.diagnosis) ctx.io.out(`  ${d}`);
      ctx.io.out(`waterfall: hitch explain ${s.name} ${v.name ?? v.id}`);
    });

  program
    .command('detach')
    .description('detach a volume from a server, showing each step as it runs')
    .argument('<server>', 'server name or id')
    .argument('<volume>', 'volume name or id')
    .option('--no-wait', 'return once the detach is accepted')
    .option('--timeout <seconds>', 'stop following after this many seconds', '600')
    .action(async (sref: string, vref: string, o: { wait: boolean; timeout: string }) => {
      const s = await findServer(ctx.client, sref);
      const v = await findVolume(ctx.client, vref);
      const r = await ctx.client.call('compute', 'DELETE', `/servers/${s.id}/os-volume_attachments/${v.id}`);
      const opId = r.headers.get('x-hitch-operation-id');
      ctx.io.out(`detaching ${v.name ?? v.id} from ${s.name} (operation ${opId ?? '?'})`);
      if (!o.wait || !opId) return;
      const op = await follow(ctx, opId, Number(o.timeout) || 600);
      if (op.state !== 'done') throw operationError(op);
      ctx.io.out(`detached ${v.name ?? v.id} from ${s.name} in ${formatMs(opReport(op).totalMs)}`);
    });

  program
    .command('attachments')
    .description("list a server's volume attachments")
    .argument('<server>', 'server name or id')
    .option('--json', 'print JSON')
    .action(async (sref: string, o: { json?: boolean }) => {
      const s = await findServer(ctx.client, sref);
      const atts = await listAttachments(ctx.client, s.id);
      if (o.json) return ctx.io.out(json(atts));
      const vols = new Map((await listVolumes(ctx.client)).map((v) => [v.id, v]));
      ctx.io.out(table(['Volume ID', 'Volume', 'Device', 'Status'], atts.map((a) => [a.volumeId, vols.get(a.volumeId)?.name ?? '', a.device ?? '', vols.get(a.volumeId)?.status ?? ''])));
    });

  program
    .command('explain')
    .description('where the time of an attach or detach went: waterfall, critical path, diagnosis (of Hitch, or of OpenStack logs with --log)')
    .argument('[server|operation]', 'server name or id, or an operation id (x-hitch-operation-id)')
    .argument('[volume]', 'volume name or id (with a server)')
    .option('--kind <kind>', 'the newest operation of this kind: attach or detach (default: the newest of any)')
    .option('--depth <n>', 'deepest level of sub-steps shown (0 = steps only)', '2')
    .option('--json', 'print the report as JSON')
    .option('--log <file...>', 'explain the attaches and detaches in OpenStack logs instead (nova-compute with os-brick, nova-api, cinder; gzip too; - for stdin)')
    .option('--volume <id>', 'with --log: only this volume (id or its start)')
    .option('--server <id>', 'with --log: only this server (instance uuid or its start)')
    .option('--request-id <id>', 'with --log: only the operation of this request (req-…)')
    .option('--since <time>', "with --log: only operations running at or after this time, in the log's own clock (2017-03-14 10:12:23)")
    .option('--until <time>', 'with --log: only operations running at or before this time')
    .option('--verbose', 'with --log: list the lines that could not be placed in any operation')
    .addHelpText('after', '\nExamples:\n  hitch explain demo-server demo-volume\n  hitch explain --log /var/log/nova/nova-compute.log           every attach and detach, slowest first\n  hitch explain --log nova-compute.log.1.gz cinder-volume.log --volume 5ed0cc5c\n  journalctl -u nova-compute | hitch explain --log -')
    .action(async (ref: string | undefined, vref: string | undefined, o: { kind?: string; depth: string; json?: boolean; log?: string[]; volume?: string; server?: string; requestId?: string; since?: string; until?: string; verbose?: boolean }) => {
      if (o.log) {
        if (ref !== undefined) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'explain --log takes files, not a server or operation: filter with --volume, --server or --request-id' });
        const { runExplainLog } = await import('./explain-log.ts');
        return runExplainLog(ctx, o.log, o);
      }
      const logOnly = (['volume', 'server', 'requestId', 'since', 'until', 'verbose'] as const).find((k) => o[k] !== undefined);
      if (logOnly) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `--${logOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --log` });
      if (ref === undefined) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'explain takes SERVER VOLUME, an operation id, or --log FILE…' });
      let op: ApiOperation | undefined;
      if (vref === undefined) {
        if (!UUID.test(ref)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'explain takes SERVER VOLUME, or an operation id' });
        op = await getOperation(ctx.client, ref);
      } else {
        const s = await findServer(ctx.client, ref);
        const v = await findVolume(ctx.client, vref);
        const ops = await listOperations(ctx.client, s.id, v.id);
        op = ops.find((x) => o.kind === undefined || x.kind === o.kind);
        if (!op) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Operation', id: `${o.kind ?? 'any'} of ${v.name ?? v.id} on ${s.name}` });
      }
      const rep = opReport(op, ctx.client.clockMs ?? undefined);
      // Its steps beside their recent normal (p50, p95 of the last done ones on its backend).
      const [normal, { againstNormal, renderNormal }] = await Promise.all([getRecentNormal(ctx.client, op.id), import('../../trace/normal.ts')]);
      const spans = toSpanRecords(op.spans);
      if (o.json) {
        const { spans: _spans, ...meta } = op;
        return ctx.io.out(json({ operation: meta, report: rep, normal, aboveNormal: againstNormal(spans, normal, formatMs) }));
      }
      const depth = Number.isInteger(Number(o.depth)) ? Number(o.depth) : 2;
      ctx.io.out(`${op.kind} ${op.id}: ${op.state}${op.error ? ` (${op.error.code})` : ''}, volume ${op.volume_id}, server ${op.server_id}, request ${op.request_id}`);
      ctx.io.out(renderExplain(rep, { ...layout(ctx), maxDepth: depth }));
      for (const l of againstNormal(spans, normal, formatMs)) ctx.io.out(`  - ${l}`);
      ctx.io.out('');
      ctx.io.out(renderNormal(spans, normal, formatMs));
    });
}
