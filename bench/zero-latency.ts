/** The zero-latency world of the control-plane figures: healthy-multipath with every cost 0. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../src/sim/scenario.ts';

export const ZERO_LATENCY = {
  commandMs: 0,
  loginRttMs: 0,
  logoutRttMs: 0,
  lunScanMs: 0,
  udevDelayMs: 0,
  multipathMapDelayMs: 0,
  arrayExportMs: 0,
  discoveryRttMs: 0,
} as const;

/** Write the scenario file into `dir` and return its path (createCloud takes a name or a path). */
export function writeZeroLatencyScenario(dir: string): string {
  const base = loadScenario('healthy-multipath');
  const path = join(dir, 'zero-latency.json');
  writeFileSync(path, JSON.stringify({ ...base, name: 'zero-latency', description: 'healthy-multipath with every latency 0', latency: ZERO_LATENCY }, null, 2));
  return path;
}
