import { describe, expect, it } from 'vitest';
import { caseEndLine, parseCaseEnd, resultFileName } from './result-file.ts';

describe('guest case results: names with spaces and slashes', () => {
  it('bench rows and suite cases is announced and filed under a name that comes back whole', () => {
    for (const name of ['seed (portal .2 dropped, default timeouts)', 'path lost after the attach (I/O goes on)', 'healthy-multipath-no', 'seed-defaults-late-path']) {
      expect(parseCaseEnd(`${caseEndLine(name, true, 1234)}\r`)).toBe(name);
      expect(parseCaseEnd(caseEndLine(name, false, 5))).toBe(name);
      const file = resultFileName(name);
      expect(file).not.toContain('/');
      expect(decodeURIComponent(file.replace(/\.json$/, ''))).toBe(name);
    }
    expect(parseCaseEnd('[case] HITCH-CASE-START seed')).toBeNull();
  });
});
