/**
 * `npm run bench -- --only real-host`: Hitch's brick and Debian's os-brick 6.1 side by side on a
 * real Linux storage host — the storage host guest (src/test-support/storage-host/), one boot for
 * every case, each side from a clean start (bench/real-host.guest.ts). Wall-clock times on a TCG
 * guest are slow; the ratios, measured in the same boot, are the figures.
 */
import { runGuest, storageHostImage, type StorageHostImage } from '../src/test-support/storage-host/guest.ts';
import type { BenchRow, SideResult } from './real-host.guest.ts';
import { ms, ratio, table } from './lib/stats.ts';

/** In the order they run: the seed first (the figure that matters most, and the longest). */
export const REAL_HOST_CASES = [
  'seed (portal .2 dropped, default timeouts)',
  'single path',
  'two portals, multipath',
  'path lost after the attach (I/O goes on)',
  'map never built (WWIDs blacklisted)',
  'CHAP',
  'detach during a pending login (short timeouts)',
  'ten at once, one dead portal (short timeouts)',
] as const;

export interface RealHostFigure {
  readonly image: StorageHostImage['versions'];
  readonly machine: string;
  readonly osBrick: { readonly version: string; readonly importMs: number } | null;
  readonly rows: readonly BenchRow[];
  readonly failures: readonly string[];
  readonly bootMs: number;
}

export async function measureRealHost(log: (s: string) => void, only?: readonly string[]): Promise<RealHostFigure> {
  const image = storageHostImage();
  const names = only && only.length > 0 ? REAL_HOST_CASES.filter((c) => only.includes(c)) : [...REAL_HOST_CASES];
  const run = runGuest({
    image,
    entry: 'bench/real-host.guest.ts',
    cases: [{ name: 'os-brick-import' }, ...names.map((name) => ({ name }))],
    timeoutMs: 60 * 60_000,
    onLine: (l) => {
      if (/HITCH-CASE|Hitch:|os-brick:|floor|whole attach|FAILED/.test(l)) log(`  [guest] ${l.trim()}`);
    },
  });
  const { results, wallMs } = await run.done.catch((e: unknown) => {
    log(`  storage host guest: ${String(e)}`);
    return { results: [], wallMs: 0 };
  });
  const imp = results.find((r) => r.name === 'os-brick-import');
  const rows = results.filter((r) => r.ok && r.name !== 'os-brick-import').map((r) => r.data as BenchRow);
  const failures = results.filter((r) => !r.ok).map((r) => `${r.name}: ${(r.error ?? '').split('\n')[0] ?? ''}`);
  // A case the guest never reported (the runner died, the boot timed out) is a failure too.
  for (const name of names) if (!results.some((r) => r.name === name)) failures.push(`${name}: no result (guest console: ${run.consoleLog})`);
  return {
    image: image.versions,
    machine: `QEMU/TCG guest (2 vCPU, 2 GB) on a ${(await import('node:os')).cpus().length}-core host; kernel ${image.versions['kernel']}, open-iscsi ${image.versions['open-iscsi']}, multipath-tools ${image.versions['multipath-tools']}, tgt ${image.versions['tgt']}`,
    osBrick: imp?.ok ? (imp.data as { version: string; importMs: number }) : null,
    rows,
    failures,
    bootMs: wallMs,
  };
}

const left = (s: SideResult | null): string => {
  if (!s) return '—';
  const l = s.left;
  const n = l.sessions.length + l.nodes.length + l.disks.length + l.maps.length;
  return n === 0 ? 'nothing' : `${l.sessions.length}s ${l.nodes.length}n ${l.disks.length}d ${l.maps.length}m`;
};

const dev = (s: SideResult | null): string => (s === null ? '—' : s.device ? `${s.device}${s.paths ? ` (${s.paths}p)` : ''}` : `failed: ${(s.error ?? '').slice(0, 40)}`);

export function renderRealHost(f: RealHostFigure): string {
  const rows = f.rows.map((r) => [
    r.case,
    ms(r.floorMs),
    ms(r.hitch.connectMs),
    ms(r.attachMs ?? null),
    ms(r.osBrick?.connectMs ?? null),
    ratio(r.osBrick?.connectMs && r.hitch.connectMs ? r.osBrick.connectMs / r.hitch.connectMs : null),
    ratio(r.floorMs && r.hitch.connectMs ? r.hitch.connectMs / r.floorMs : null),
    `${dev(r.hitch)} / ${dev(r.osBrick)}`,
    `${left(r.hitch)} / ${left(r.osBrick)}`,
    `${r.hitch.connectCommands}+${r.hitch.disconnectCommands} / ${r.osBrick ? `${r.osBrick.connectCommands}+${r.osBrick.disconnectCommands}` : '—'}`,
  ]);
  return [
    `Real host: Hitch vs os-brick ${f.osBrick?.version ?? '(missing)'} on ${f.machine} (wall clock; one boot, ${ms(f.bootMs)})`,
    table(
      ['case', 'floor', 'Hitch connect', 'Hitch attach (HTTP)', 'os-brick connect_volume', 'os-brick/Hitch', 'Hitch/floor', 'device (Hitch / os-brick)', 'left (Hitch / os-brick)', 'commands connect+disconnect (Hitch / os-brick)'],
      rows,
    ),
    ...f.rows.filter((r) => r.note).map((r) => `  ${r.case}: ${r.note}`),
    ...f.rows
      .filter((r) => r.hitch.connectSamplesMs || r.osBrick?.connectSamplesMs)
      .map((r) => `  ${r.case}: connect, the median of ${r.hitch.connectSamplesMs?.length ?? 1} — Hitch ${(r.hitch.connectSamplesMs ?? []).map((x) => ms(x)).join(' / ')}, os-brick ${(r.osBrick?.connectSamplesMs ?? []).map((x) => ms(x)).join(' / ')}`),
    ...f.rows.filter((r) => r.deadPortalAfterGiveUp).map((r) => `  ${r.case}: of the dead portal after iscsid gave up — Hitch ${JSON.stringify(r.deadPortalAfterGiveUp?.hitch)}, os-brick ${JSON.stringify(r.deadPortalAfterGiveUp?.osBrick)}`),
    ...(f.osBrick ? [`  os-brick imported once per boot in ${ms(f.osBrick.importMs)} (not in any row)`] : []),
    ...f.failures.map((x) => `  FAILED ${x}`),
  ].join('\n');
}
