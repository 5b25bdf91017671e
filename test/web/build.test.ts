/**
 * The dashboard's committed assets are the build's output, not edited by hand: rebuilding from
 * web/src gives the same bytes. And the dashboard's sources typecheck (they sit outside the
 * root tsconfig, which has no DOM-only code).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../../web/build.ts';
import { ROOT } from '../cli/support.ts';

describe('web/dist', () => {
  it('is exactly what `npx tsx web/build.ts` builds', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hitch-web-build-'));
    try {
      await buildDashboard(out);
      for (const f of ['index.html', 'app.js', 'app.css']) {
        expect(readFileSync(join(out, f), 'utf8'), `web/dist/${f} is stale: run npx tsx web/build.ts`).toBe(readFileSync(join(ROOT, 'web/dist', f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('typechecks (strict, DOM)', () => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'web/tsconfig.json'), '--noEmit'], { cwd: ROOT, stdio: 'pipe' });
  });
});
