/**
 * The recorded fixtures: what the storage host guest answered to each scene
 * (`scripts/record-fidelity.ts` writes them; `fixtures/README.md` says how and when).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { CalibrationRaw } from './calibration.ts';
import type { SceneRecord } from './scenes.ts';

export interface Recorded {
  readonly at: string;
  readonly by: string;
  readonly commit: string;
  readonly image: Readonly<Record<string, string>>;
  readonly guest: string;
}

const DIR = new URL('./fixtures/', import.meta.url);

export function fixtureExists(name: string): boolean {
  return existsSync(new URL(`${name}.json`, DIR));
}

/** Scene `name` as the real host answered it. */
export function sceneFixture(name: string): SceneRecord & { readonly recorded: Recorded } {
  return JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8')) as SceneRecord & { recorded: Recorded };
}

export interface CalibrationRun {
  /** `machineTrueMs`: this machine's own command start (`true`), measured beside the guest's. */
  readonly recorded: Recorded & { readonly machineTrueMs: number };
  readonly raw: CalibrationRaw;
}

/** The latency calibrations as measured (the latest runs). */
export function calibrationFixture(): { readonly runs: readonly CalibrationRun[] } {
  return JSON.parse(readFileSync(new URL('calibrate.json', DIR), 'utf8')) as { runs: CalibrationRun[] };
}
