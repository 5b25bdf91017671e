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
  {
    scene: 'nvme',
    id: /\/by-id$/,
    field: /^value\["nvme-Linux_[0-9a-f]+"\]$/,
    reason:
      "udev's `nvme-<model>_<serial>` link (no nsid) is claimed by every namespace of the subsystem: the real host gives it to either (n1 in this recording, n2 in testdata/nvme's run without native multipath); the simulator to the last one added",
    sometimes: true,
  },
];
