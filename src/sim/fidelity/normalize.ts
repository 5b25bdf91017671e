/**
 * Names and numbers a real host and the simulator choose differently, made comparable: a scene's
 * record is rewritten with placeholders numbered in order of first appearance, so the first
 * session either side made is `⟨sid1⟩`, its SCSI host `⟨host1⟩`, its disk `⟨sd1⟩`, the first
 * map `⟨dm1⟩`, the first WWN `⟨wwn1⟩` (in every spelling: `36000…`, `naa.6000…`, `0x6000…`).
 * NVMe instance numbers (`nvme0`, `nvme-subsys0`, `nvme0n1`, `nvme0c1n1`) become `⟨nvmeN⟩` likewise.
 * Times (multipath's seconds-since-boot prefix, multipathd's next check) become `⟨time⟩`.
 * Everything else — IQNs, portals, texts, exit codes — is compared as it is.
 *
 * The kernel numbers sessions from boot and reuses SCSI host numbers and disk names; the
 * simulator starts afresh each scene. What matters is that the same states follow each other:
 * "the second session's host holds the first disk" reads the same on both sides.
 */
import type { Observation } from './observe.ts';

class Namer {
  readonly #maps = new Map<string, Map<string, string>>();

  name(kind: string, raw: string): string {
    let m = this.#maps.get(kind);
    if (!m) this.#maps.set(kind, (m = new Map()));
    let v = m.get(raw);
    if (v === undefined) m.set(raw, (v = `⟨${kind}${m.size + 1}⟩`));
    return v;
  }
}

/** The rewrites, in order; each `(match, namer) → text`. */
function rewrite(text: string, n: Namer): string {
  return (
    text
      // WWNs first (they hold digit runs the other rules would take apart).
      .replace(/\b(3|naa\.|0x|mpath-3)([0-9a-f]{32})\b/g, (_m, pre: string, hex: string) => `${pre}${n.name('wwn', hex)}`)
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, (m) => n.name('uuid', m))
      // multipath's messages start with seconds since boot; multipathd's next_check is a countdown.
      .replace(/\b\d+\.\d{6} \|/g, '⟨time⟩ |')
      .replace(/[X.]{10} \d+\/\d+/g, '⟨time⟩')
      // NVMe: controllers and subsystems share the kernel's instance numbers (a subsystem takes
      // its first controller's), and devices are named by them: one namer for all.
      .replace(/\bnvme-subsys(\d+)\b/g, (_m, d: string) => `nvme-subsys${n.name('nvme', d)}`)
      .replace(/\bnvme(\d+)c(\d+)n(\d+)\b/g, (_m, s: string, c: string, k: string) => `nvme${n.name('nvme', s)}c${n.name('nvme', c)}n${k}`)
      .replace(/\bnvme(\d+)n(\d+)\b/g, (_m, s: string, k: string) => `nvme${n.name('nvme', s)}n${k}`)
      .replace(/\bnvme(\d+)\b/g, (_m, d: string) => `nvme${n.name('nvme', d)}`)
      // Sessions.
      .replace(/\bsession(\d+)\b/g, (_m, d: string) => `session${n.name('sid', d)}`)
      .replace(/\bconnection(\d+):(\d+)\b/g, (_m, d: string, c: string) => `connection${n.name('sid', d)}:${c}`)
      .replace(/\bsid: (\d+)\b/g, (_m, d: string) => `sid: ${n.name('sid', d)}`)
      .replace(/\bSID: (\d+)\b/g, (_m, d: string) => `SID: ${n.name('sid', d)}`)
      .replace(/^tcp: \[(\d+)\]/gm, (_m, d: string) => `tcp: [${n.name('sid', d)}]`)
      .replace(/(-r )(\d+)\b/g, (_m, pre: string, d: string) => `${pre}${n.name('sid', d)}`)
      // SCSI hosts: hostH, targetH:C:T, H:C:T:L.
      .replace(/\bhost(\d+)\b/g, (_m, d: string) => `host${n.name('host', d)}`)
      .replace(/\btarget(\d+):(\d+):(\d+)\b/g, (_m, h: string, c: string, t: string) => `target${n.name('host', h)}:${c}:${t}`)
      .replace(/(?<![\d.:])(\d+):(\d+):(\d+):(\d+)\b/g, (_m, h: string, c: string, t: string, l: string) => `${n.name('host', h)}:${c}:${t}:${l}`)
      .replace(/\bscsi(\d+) Channel/g, (_m, d: string) => `scsi${n.name('host', d)} Channel`)
      // Disks and maps, and their device numbers.
      .replace(/\bsd[a-z]+\b/g, (m) => n.name('sd', m))
      .replace(/\bdm-(\d+)\b/g, (m) => n.name('dm', m))
      .replace(/(?<![\d:])(8|25[0-9]):(\d+)\b/g, (_m, maj: string) => `${maj}:⟨minor⟩`)
      // tgt's identifiers made of its target number (the guest's tgt numbers targets across a boot).
      .replace(/(?<=scsi-1)IET_([0-9a-f]{8})\b/g, (_m, id: string) => `IET_${n.name('tgt', id)}`)
      .replace(/\bscsi-3(3[0-9a-f]{15})\b/g, (_m, id: string) => `scsi-3${n.name('tgt', id)}`)
      .replace(/_beaf(\d+)\b/g, (_m, id: string) => `_beaf${n.name('tgt', id)}`)
      // multipathd pads its tables' last column to a width that follows the countdowns above.
      .replace(/ +$/gm, '')
  );
}

function deep(v: unknown, n: Namer): unknown {
  if (typeof v === 'string') return rewrite(v, n);
  if (Array.isArray(v)) return v.map((x) => deep(x, n));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [rewrite(k, n), deep(x, n)]));
  }
  return v;
}

/** What of an observation is compared, normalized: never its timing. */
export interface Comparable {
  readonly id: string;
  readonly op: Observation['op'];
  readonly what: string;
  readonly answer: Readonly<Record<string, unknown>>;
}

/** A scene's observations, each reduced to what is compared, names numbered by first appearance. */
export function normalizeObservations(observations: readonly Observation[]): Comparable[] {
  const n = new Namer();
  return observations.map((o) => {
    const what = rewrite(o.what, n);
    const answer: Record<string, unknown> = {};
    if (o.op === 'exec') {
      if (o.error !== undefined) answer['error'] = o.error;
      else {
        answer['code'] = o.code;
        answer['stdout'] = deep(o.stdout ?? '', n);
        answer['stderr'] = deep(o.stderr ?? '', n);
      }
    } else if (o.error !== undefined) answer['error'] = o.error;
    else answer['value'] = deep(o.value, n);
    return { id: o.id, op: o.op, what, answer };
  });
}
