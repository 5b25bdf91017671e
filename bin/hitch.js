#!/usr/bin/env -S node --max-semi-space-size=64
// The `hitch` command: run the compiled CLI (dist/, built by `npm install` through `prepare`, or
// `npm run build`) in this process, so signals reach `hitch serve` directly. When dist/ is
// missing or older than the sources (an edit since the last build), compile the TypeScript on
// the fly through tsx instead: slower to start (~1–2 s), never stale.
//
// The first line holds the node flags every Hitch process runs with (`env -S` splits them), in
// one place: `npm start` runs this file, and the bench's server reads them from here.
// --max-semi-space-size=64: a server answering requests makes many short-lived objects; with
// V8's default young generation (16 MB semi-spaces on 64-bit) it scavenges often, and each
// scavenge copies what is still live. A larger one scavenges less often for the same survivors (≈ 5–10% less CPU per attach in the control-plane bench; see bench/README.md §3). It
// is a ceiling, not a reservation: the young generation grows toward it only under that
// allocation rate. `node bin/hitch.js` bypasses this line and runs with node's defaults.
import { fileURLToPath } from 'node:url';
import { compiledEntry } from './compiled.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let entry = compiledEntry(root);
if (entry === null) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../src/cli/main.ts', import.meta.url).href;
}
const { main } = await import(entry);
await main(process.argv.slice(2));
