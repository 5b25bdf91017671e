/**
 * Live progress of an attach or detach, from its trace as the server reports it.
 *
 * On a terminal a block of lines is redrawn in place: each of the seed's steps ticking from
 * pending to done with its elapsed time, and under the running step what it is doing now
 * ("logging in to 192.168.1.59:3260 (12 s)"). Elsewhere (pipes, CI logs) plain lines are
 * appended as steps finish. Times are the host clock's (virtual on the simulator).
 */
import { formatMs } from '../trace/explain.ts';
import type { ApiOperation, ApiSpan } from './resources.ts';

export const STEP_TEXT: Readonly<Record<string, string>> = {
  reserve: 'reserve a device name and the volume',
  'lock-instance': 'lock the instance',
  'get-volume': 'get the volume from block storage',
  'connector-properties': "gather the host's connector properties",
  'initialize-connection': 'initialize the connection (the array exports the LUN)',
  'connect-volume': 'connect the volume on the host (iSCSI, multipath)',
  hotplug: 'hot-plug the disk into the guest',
  complete: 'complete the attachment (volume in-use)',
  'unlock-instance': 'unlock the instance',
  'begin-detaching': 'mark the volume detaching',
  unplug: 'unplug the disk from the guest',
  'disconnect-volume': 'disconnect the volume on the host',
  'detach-volume': 'finish the detach in block storage',
  'bdm.destroy': 'forget the block device mapping',
  rollback: 'roll back',
};

export const ATTACH_STEPS = ['reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance'];
export const DETACH_STEPS = ['lock-instance', 'begin-detaching', 'unplug', 'connector-properties', 'disconnect-volume', 'detach-volume', 'bdm.destroy', 'unlock-instance'];

/** What a running span is doing, in words. */
export function doing(s: ApiSpan, spans: readonly ApiSpan[]): string {
  const a = s.attrs;
  const cmd = typeof a['command'] === 'string' ? a['command'] : '';
  const portal = typeof a['portal'] === 'string' ? a['portal'] : /-p (\S+)/.exec(cmd)?.[1];
  if (s.name === 'exec iscsiadm' && cmd.includes('--login')) return `logging in to ${portal ?? 'the portal'}`;
  if (s.name === 'connect_path') {
    const sub = spans.find((c) => c.parent_id === s.id && c.end_ms === null);
    return sub ? doing(sub, spans) : `connecting through ${portal}`;
  }
  if (s.name.startsWith('exec ')) return `running ${cmd.split(' ').slice(0, 4).join(' ') || s.name.slice(5)}`;
  if (s.name === 'wait device') {
    const via = /\/ip-([^/]+?)-iscsi-/.exec(String(a['path'] ?? ''))?.[1];
    return `waiting for the device${via ? ` through ${via}` : ''} (udev)`;
  }
  if (s.name === 'wait multipath') return 'waiting for the multipath map';
  if (s.name.startsWith('block-storage ')) return `block storage: ${s.name.slice('block-storage '.length)}`;
  // The backend's work inside an in-process block storage call (volume/traced-backend.ts).
  if (typeof a['backend'] === 'string') {
    const call = spans.find((p) => p.id === s.parent_id);
    return `${call ? `${doing(call, spans)}: ` : ''}the ${a['backend']} backend's ${s.name.split(' ').slice(2).join(' ')}`;
  }
  if (s.name === 'virt.attach_disk') return `hot-plugging ${String(a['target'] ?? 'the disk')}`;
  return s.name;
}

/** The deepest running spans under `root`, longest-running first. */
function runningLeaves(root: ApiSpan, spans: readonly ApiSpan[]): ApiSpan[] {
  const running = spans.filter((s) => s.end_ms === null && s.name !== 'log');
  const under = (s: ApiSpan): boolean => {
    let p = s.parent_id;
    for (let i = 0; p !== null && i < 64; i++) {
      if (p === root.id) return true;
      p = spans.find((x) => x.id === p)?.parent_id ?? null;
    }
    return false;
  };
  const mine = running.filter(under);
  return mine.filter((s) => !mine.some((c) => c.parent_id === s.id)).sort((a, b) => a.start_ms - b.start_ms);
}

export interface StepLine {
  readonly name: string;
  readonly state: 'pending' | 'running' | 'done' | 'failed';
  readonly ms: number | null;
  readonly detail: string | null;
}

/** The steps of an operation as they stand at `nowMs`. */
export function stepLines(op: ApiOperation, nowMs: number): StepLine[] {
  const plan = op.kind === 'detach' ? DETACH_STEPS : ATTACH_STEPS;
  const top = op.spans.filter((s) => s.parent_id === null);
  const names = [...plan, ...top.map((s) => s.name).filter((n) => !plan.includes(n))];
  const ended = op.state !== 'running';
  return [...new Set(names)].flatMap((name): StepLine[] => {
    const s = [...top].reverse().find((x) => x.name === name);
    if (!s) return ended && !plan.includes(name) ? [] : [{ name, state: 'pending', ms: null, detail: null }];
    if (s.end_ms === null) {
      const leaves = runningLeaves(s, op.spans);
      const first = leaves[0];
      const detail = first ? `${doing(first, op.spans)} (${formatMs(Math.max(0, nowMs - first.start_ms))})${leaves.length > 1 ? ` +${leaves.length - 1} more` : ''}` : null;
      return [{ name, state: 'running', ms: Math.max(0, nowMs - s.start_ms), detail }];
    }
    return [{ name, state: s.outcome === 'error' ? 'failed' : 'done', ms: s.end_ms - s.start_ms, detail: s.outcome === 'error' ? (s.error?.code ?? null) : null }];
  });
}

const MARK = { pending: '·', running: '›', done: '✓', failed: '✗' } as const;

/** The block drawn on a terminal. */
export function frame(op: ApiOperation, nowMs: number): string[] {
  const lines = stepLines(op, nowMs);
  const w = Math.max(...lines.map((l) => l.name.length));
  return lines.flatMap((l) => {
    const time = l.ms === null ? '' : formatMs(l.ms);
    const main = `  ${MARK[l.state]} ${l.name.padEnd(w)}  ${time.padStart(7)}  ${STEP_TEXT[l.name] ?? ''}`.trimEnd();
    return l.detail && l.state === 'running' ? [main, `      ${l.detail}`] : l.detail ? [`${main}  ${l.detail}`] : [main];
  });
}

/** Append-only progress for pipes: one line per step as it ends, one per new sub-step seen. */
export class PlainProgress {
  readonly #printed = new Set<string>();
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  update(op: ApiOperation, nowMs: number): void {
    const t0 = op.started_ms;
    for (const s of op.spans.filter((x) => x.parent_id === null).sort((a, b) => a.start_ms - b.start_ms || a.id - b.id)) {
      if (s.end_ms === null) {
        for (const leaf of runningLeaves(s, op.spans)) {
          const key = `run:${leaf.id}`;
          if (this.#printed.has(key)) continue;
          this.#printed.add(key);
          this.#write(`[+${formatMs(leaf.start_ms - t0)}] ${s.name}: ${doing(leaf, op.spans)}`);
        }
        continue;
      }
      const key = `end:${s.id}`;
      if (this.#printed.has(key)) continue;
      this.#printed.add(key);
      const state = s.outcome === 'error' ? `FAILED ${s.error?.code ?? ''}`.trim() : 'done';
      this.#write(`[+${formatMs(s.end_ms - t0)}] ${s.name}: ${state} (${formatMs(s.end_ms - s.start_ms)})`);
    }
    void nowMs;
  }
}

/** Redraws the block in place on a terminal. */
export class TtyProgress {
  #lines = 0;
  readonly #out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  update(op: ApiOperation, nowMs: number): void {
    const lines = frame(op, nowMs);
    const cols = Math.max(40, this.#out.columns || 100);
    let s = this.#lines > 0 ? `\x1b[${this.#lines}A` : '';
    for (const l of lines) s += `\x1b[2K${l.length > cols - 1 ? `${l.slice(0, cols - 2)}…` : l}\n`;
    // A shorter frame leaves old lines below: clear them.
    for (let i = lines.length; i < this.#lines; i++) s += '\x1b[2K\n';
    const extra = Math.max(0, this.#lines - lines.length);
    if (extra > 0) s += `\x1b[${extra}A`;
    this.#lines = lines.length;
    this.#out.write(s);
  }
}
