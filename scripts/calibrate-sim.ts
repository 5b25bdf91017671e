/**
 * Write the built-in `calibrated` scenario (src/sim/scenarios/calibrated.json) from the recorded
 * calibration (src/sim/fidelity/fixtures/calibrate.json and the scenes' fixtures): after
 * `npx tsx scripts/record-fidelity.ts calibrate` adds a run, run
 *
 *   npx tsx scripts/calibrate-sim.ts
 *
 * `src/sim/fidelity/calibrated.test.ts` fails while the file and the fixtures disagree.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { calibratedScenario, calibrationFromFixtures } from '../src/sim/fidelity/calibrated.ts';

const c = calibrationFromFixtures();
const file = fileURLToPath(new URL('../src/sim/scenarios/calibrated.json', import.meta.url));
writeFileSync(file, `${JSON.stringify(calibratedScenario(c), null, 2)}\n`);
console.log(`${file}: factor ${c.factor} over ${c.runs} run(s); guest ${JSON.stringify(c.guest)}`);
