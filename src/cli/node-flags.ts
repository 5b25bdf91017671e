/**
 * The node flags Hitch's processes run with. They live in one place, the first line of
 * `bin/hitch.js` (`#!/usr/bin/env -S node FLAGS`), so that running `hitch` (or `npm start`) applies
 * them; whatever starts a Hitch server some other way and wants it to behave like the product
 * (the bench's server process) reads them from there.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/hitch.js', import.meta.url));

/** The flags of a `#!/usr/bin/env -S node FLAGS` line; [] for a line without any. */
export function nodeFlagsOfShebang(line: string): string[] {
  const m = /^#!\S*env\s+-S\s+node((?:\s+\S+)*)\s*$/.exec(line);
  return m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/** The node flags `bin/hitch.js` runs with. */
export function hitchNodeFlags(): string[] {
  const text = readFileSync(BIN, 'utf8');
  return nodeFlagsOfShebang(text.slice(0, text.indexOf('\n')));
}
