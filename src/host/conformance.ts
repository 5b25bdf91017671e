/**
 * One conformance suite for every Host implementation (hono's `common.case.test.ts` pattern):
 * `LinuxHost` and `SimHost` each run it with a context that says how to set up the few states
 * the suite needs. What both must agree on: the input checks and their catalog errors, okCodes
 * and HITCH_EXEC_FAILED, `cat` of a file, file operations, waiting for a path to appear
 * and to go by event, and a TCP probe's outcomes.
 */
import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import type { Host } from '../ports/host.ts';

export interface HostConformanceContext {
  readonly host: Host;
  /** A readable file under the allowed roots, and its exact content. */
  readonly knownFile: { readonly path: string; readonly content: string };
  /** A directory under the allowed roots that lists `knownFile` among its entries. */
  readonly knownDir: string;
  /** A path under the allowed roots that does not exist. */
  readonly missingPath: string;
  /** A path that does not exist yet, and a way to make it appear. */
  readonly appearing: { readonly path: string; make(): Promise<void> | void };
  /** A path that exists, and a way to make it go. */
  readonly vanishing: { readonly path: string; remove(): Promise<void> | void };
  /**
   * Let time pass while a wait is pending: the simulator advances its virtual clock, the real
   * host does nothing (the wait's own timer fires).
   */
  settle(): Promise<void>;
  /**
   * Three TCP endpoints as the host sees them: one that accepts, one that refuses (a reset),
   * one that never answers a SYN (made on demand: a real one holds a socket and a process).
   */
  tcp(): Promise<TcpEndpoints>;
  dispose(): Promise<void>;
}

export interface TcpEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface TcpEndpoints {
  readonly open: TcpEndpoint;
  readonly refused: TcpEndpoint;
  readonly silent: TcpEndpoint;
  close(): Promise<void>;
}

async function expectCode(p: Promise<unknown>, code: Parameters<typeof isHitchError>[1]): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => isHitchError(e, code));
}

export function hostConformance(label: string, setup: () => Promise<HostConformanceContext>): void {
  describe(`Host conformance: ${label}`, () => {
    const withCtx = (fn: (ctx: HostConformanceContext) => Promise<void>) => async () => {
      const ctx = await setup();
      try {
        await fn(ctx);
      } finally {
        await ctx.dispose();
      }
    };

    it('refuses a binary that is not on the allowlist', withCtx(async ({ host }) => {
      await expectCode(host.exec('rm', ['-rf', '/']), 'HITCH_EXEC_NOT_ALLOWED');
      await expectCode(host.exec('/bin/sh', ['-c', 'true']), 'HITCH_EXEC_NOT_ALLOWED');
      await expectCode(host.exec('', []), 'HITCH_EXEC_NOT_ALLOWED');
    }));

    it('refuses an argument with a NUL byte before running anything', withCtx(async ({ host, knownFile }) => {
      const seen: string[] = [];
      const off = host.onExec((r) => seen.push(r.cmd));
      await expectCode(host.exec('cat', [`${knownFile.path}\0/etc/shadow`]), 'HITCH_EXEC_BAD_ARGUMENT');
      off();
      expect(seen).toEqual([]);
    }));

    it('refuses paths outside the allowed roots and paths that climb out with ..', withCtx(async ({ host, knownDir }) => {
      await expectCode(host.readFile('/root/.ssh/id_rsa'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(host.writeFile('/tmp/x', 'y'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(host.readFile(`${knownDir}/../../../etc/shadow`), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(host.exists('relative/path'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(host.glob('/home/*'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(host.waitForPath('/var/run/x', { timeoutMs: 10 }), 'HITCH_PATH_NOT_ALLOWED');
    }));

    it('reads files directly and through cat, identically', withCtx(async ({ host, knownFile }) => {
      expect(await host.readFile(knownFile.path)).toBe(knownFile.content);
      const r = await host.exec('cat', [knownFile.path]);
      expect(r).toEqual({ code: 0, stdout: knownFile.content, stderr: '' });
    }));

    it('reports a missing file with the catalog error, and cat with its real exit code', withCtx(async ({ host, missingPath }) => {
      await expectCode(host.readFile(missingPath), 'HITCH_PATH_NOT_FOUND');
      expect(await host.exists(missingPath)).toBe(false);
      const r = await host.exec('cat', [missingPath], { okCodes: 'any' });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`cat: ${missingPath}: No such file or directory\n`);
      await expectCode(host.exec('cat', [missingPath]), 'HITCH_EXEC_FAILED');
      const ok = await host.exec('cat', [missingPath], { okCodes: [0, 1] });
      expect(ok.code).toBe(1);
    }));

    it('reads several files in one call: content in order, null where missing, a refused path refuses the call', withCtx(async ({ host, knownFile, knownDir, missingPath }) => {
      const readFiles = host.readFiles?.bind(host);
      expect(readFiles).toBeDefined();
      if (!readFiles) return;
      expect(await readFiles([knownFile.path, missingPath, knownFile.path])).toEqual([knownFile.content, null, knownFile.content]);
      expect(await readFiles([])).toEqual([]);
      await expectCode(readFiles([knownFile.path, '/root/.ssh/id_rsa']), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(readFiles([`${knownDir}/../../../etc/shadow`]), 'HITCH_PATH_NOT_ALLOWED');
    }));

    it('replaces a file atomically: parents made, content swapped whole, no temporary left, not in sysfs', withCtx(async ({ host, knownDir }) => {
      const write = host.writeFileAtomic?.bind(host);
      expect(write).toBeDefined();
      if (!write) return;
      const dir = `${knownDir}/hitch-atomic/sub`;
      await write(`${dir}/record`, 'first\n');
      expect(await host.readFile(`${dir}/record`)).toBe('first\n');
      await write(`${dir}/record`, 'second\n', { mode: 0o600 });
      expect(await host.readFile(`${dir}/record`)).toBe('second\n');
      expect(await host.readdir(dir)).toEqual(['record']);
      await expectCode(write('/sys/class/scsi_host/host0/scan', '- - -'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(write('/root/.ssh/authorized_keys', 'x'), 'HITCH_PATH_NOT_ALLOWED');
      await expectCode(write(`${knownDir}/../x`, 'x'), 'HITCH_PATH_NOT_ALLOWED');
    }));

    it('lists and globs a directory, sorted', withCtx(async ({ host, knownDir, knownFile }) => {
      const names = await host.readdir(knownDir);
      expect(names).toEqual([...names].sort());
      expect(names).toContain(knownFile.path.slice(knownDir.length + 1));
      const matches = await host.glob(`${knownDir}/*`);
      expect(matches).toContain(knownFile.path);
      expect(matches).toEqual([...matches].sort());
    }));

    it('reports every exec to listeners with the exit code', withCtx(async ({ host, knownFile, missingPath }) => {
      const seen: string[] = [];
      const off = host.onExec((r) => seen.push(`${r.cmd} ${r.args.join(' ')} -> ${r.code}`));
      await host.exec('cat', [knownFile.path]);
      await host.exec('cat', [missingPath], { okCodes: 'any' });
      off();
      await host.exec('cat', [knownFile.path]);
      expect(seen).toEqual([`cat ${knownFile.path} -> 0`, `cat ${missingPath} -> 1`]);
    }));

    it('masks declared secrets in errors', withCtx(async ({ host, missingPath }) => {
      const secret = 'Zz9-chap-secret-Zz9';
      const err = await host.exec('cat', [missingPath, secret], { secrets: [secret] }).catch((e: unknown) => e);
      expect(isHitchError(err, 'HITCH_EXEC_FAILED')).toBe(true);
      expect(String((err as Error).message)).not.toContain(secret);
      expect(JSON.stringify((err as { details: unknown }).details)).not.toContain(secret);
    }));

    it('waits for a path to appear, by event', withCtx(async (ctx) => {
      expect(await ctx.host.exists(ctx.appearing.path)).toBe(false);
      const waiting = ctx.host.waitForPath(ctx.appearing.path, { timeoutMs: 60_000 });
      await ctx.appearing.make();
      await ctx.settle();
      expect(await waiting).toBe(true);
      expect(await ctx.host.exists(ctx.appearing.path)).toBe(true);
    }));

    it('waits for a path to go, by event', withCtx(async (ctx) => {
      expect(await ctx.host.exists(ctx.vanishing.path)).toBe(true);
      const waiting = ctx.host.waitForPath(ctx.vanishing.path, { timeoutMs: 60_000, gone: true });
      await ctx.vanishing.remove();
      await ctx.settle();
      expect(await waiting).toBe(true);
    }));

    it('gives up a wait at its bound and says false', withCtx(async (ctx) => {
      const waiting = ctx.host.waitForPath(ctx.missingPath, { timeoutMs: 50 });
      await ctx.settle();
      expect(await waiting).toBe(false);
    }));

    it('aborts a wait and a sleep with HITCH_ABORTED', withCtx(async (ctx) => {
      const ac = new AbortController();
      const w = ctx.host.waitForPath(ctx.missingPath, { timeoutMs: 60_000, signal: ac.signal });
      const s = ctx.host.clock.sleep(60_000, ac.signal);
      const checks = Promise.all([expectCode(w, 'HITCH_ABORTED'), expectCode(s, 'HITCH_ABORTED')]);
      ac.abort();
      await checks;
    }));

    it('probes TCP: a listener is open, a closed port refused, a silent one a timeout; the answer is never an error', withCtx(async (ctx) => {
      expect(ctx.host.capabilities.tcpProbe).toBe(true);
      const ep = await ctx.tcp();
      try {
        const probe = (e: TcpEndpoint, timeoutMs: number) => ctx.host.probeTcp(e.address, e.port, { timeoutMs });
        expect((await probe(ep.open, 5_000)).outcome).toBe('open');
        expect((await probe(ep.refused, 5_000)).outcome).toBe('refused');
        const silent = probe(ep.silent, 300);
        await ctx.settle();
        const r = await silent;
        expect(r.outcome).toBe('timeout');
        expect(r.elapsedMs).toBeGreaterThanOrEqual(300);
        const ac = new AbortController();
        const aborted = ctx.host.probeTcp(ep.silent.address, ep.silent.port, { timeoutMs: 60_000, signal: ac.signal });
        const check = expectCode(aborted, 'HITCH_ABORTED');
        ac.abort();
        await check;
      } finally {
        await ep.close();
      }
    }));

    it('refuses a malformed probe before anything is sent', withCtx(async ({ host }) => {
      const bad: Array<[string, number, number]> = [
        ['', 3260, 1_000],
        ['10.0.0.1; reboot', 3260, 1_000],
        ['-a', 3260, 1_000],
        ['300.1.1.1', 3260, 1_000],
        ['10.0.0.1', 0, 1_000],
        ['10.0.0.1', 65_536, 1_000],
        ['10.0.0.1', 3260.5, 1_000],
        ['10.0.0.1', 3260, 0],
        ['10.0.0.1', 3260, Number.POSITIVE_INFINITY],
      ];
      for (const [address, port, timeoutMs] of bad) await expectCode(host.probeTcp(address, port, { timeoutMs }), 'HITCH_INVALID_ARGUMENT');
    }));
  });
}
