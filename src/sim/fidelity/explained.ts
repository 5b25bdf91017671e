/**
 * The differences between the real host and the simulator that the fidelity suite accepts, each
 * with its reason. Everything else the two answer differently fails the suite. An entry that no
 * longer matches any difference fails it too (the simulator got closer: remove the entry).
 */
import type { ExplainedDifference } from './compare.ts';

export const EXPLAINED: readonly ExplainedDifference[] = [
  {
    scene: 'map-yes',
    id: 'p2/multipath-ll',
    field: 'stdout',
    reason:
      'find_multipaths yes, a map made of an orphan path and a new one at once: the real multipathd puts either first (two recordings differ); the simulator puts the older path first',
    sometimes: true,
  },
];
