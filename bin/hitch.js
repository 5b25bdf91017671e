#!/usr/bin/env node
// The `hitch` command: load TypeScript through tsx (no build step) and run the CLI in this
// process, so signals reach `hitch serve` directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
