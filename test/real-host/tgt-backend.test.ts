/**
 * The `tgt` backend against a real tgtd (its own, on a free loopback port and control port):
 * what it exports to whom, that every call converges when re-run or when tgtd lost its state,
 * and that the CHAP password is in no command record. No hypervisor needed.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecRecord } from '../../src/ports/host.ts';
import { DEFAULT_ALLOWED_BINARIES, DEFAULT_ALLOWED_ROOTS } from '../../src/host/allowlist.ts';
import { LinuxHost } from '../../src/host/linux-host.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import type { BackendVolume } from '../../src/ports/volume-backend.ts';
import { TgtBackend } from '../../src/volume/backends/tgt-backend.ts';
import { parseConnector } from '../../src/volume/connector.ts';
import { Tgtadm } from '../../src/volume/backends/tgtadm.ts';
import { TgtDaemon } from '../../src/volume/backends/tgtd.ts';
import { freePort, freeTgtControlPort, run } from './peers.ts';
import { iscsiData } from '../../src/test-support/iscsi-info.ts';

const missing = ['/usr/sbin/tgtd', '/usr/sbin/tgtadm', '/usr/bin/iscsi-ls'].filter((p) => !existsSync(p));
if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root');
if (missing.length > 0 && !peerRequired()) console.warn(`tgt backend suite skipped: missing ${missing.join(', ')}`);
const suite = missing.length > 0 && !peerRequired() ? describe.skip : describe;

const INI = 'iqn.1993-08.org.debian:01:hitch-test-a';
const OTHER = 'iqn.1993-08.org.debian:01:hitch-test-b';

suite('tgt backend on a real tgtd', () => {
  let dir = '';
  let tgtd: TgtDaemon;
  let tgtadm: Tgtadm;
  let backend: TgtBackend;
  let portals: string[] = [];
  const records: ExecRecord[] = [];

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`tgt peers missing under CI: ${missing.join(', ')}`);
    dir = mkdtempSync(join(tmpdir(), 'hitch-tgt-'));
    const host = new LinuxHost({ allowedRoots: [...DEFAULT_ALLOWED_ROOTS, dir], allowedBinaries: [...DEFAULT_ALLOWED_BINARIES, 'truncate', 'rm', 'cp', 'mv', 'df'] });
    host.onExec((r) => records.push(r));
    const port = await freePort(['127.0.0.1', '127.0.0.2']);
    portals = [`127.0.0.1:${port}`, `127.0.0.2:${port}`];
    tgtadm = new Tgtadm({ host, controlPort: freeTgtControlPort() });
    tgtd = new TgtDaemon({ tgtadm, portals });
    expect(await tgtd.ensure({ start: true })).toEqual({ started: true });
    expect((await tgtadm.portals()).sort()).toEqual([...portals].sort());
    backend = new TgtBackend({ tgtadm, portals, lunDir: dir });
  }, 60_000);

  afterAll(async () => {
    await tgtd?.stop();
    if (tgtadm) expect(await tgtadm.ping()).toBe(false);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const listed = async (initiator: string, portal = portals[0]!): Promise<string> => (await run('iscsi-ls', ['-i', initiator, `iscsi://${portal}`])).stdout;

  it('create: a sparse LUN file on a target of its own with a CHAP account and no ACL; re-running converges', async () => {
    const id = '5ed0cc5c-158c-4857-9bd5-3556884a23f0';
    const { providerLocation } = await backend.createVolume({ id, size: 1 });
    const again = await backend.createVolume({ id, size: 1 });
    const file = join(dir, `volume-${id}.img`);
    expect(statSync(file).size).toBe(1024 ** 3);
    expect(statSync(file).blocks).toBeLessThan(64); // sparse
    const targets = (await tgtadm.targets()).filter((x) => x.iqn === `iqn.2010-10.org.openstack:volume-${id}`);
    expect(targets).toHaveLength(1);
    const t = targets[0]!;
    expect(t.luns.map((l) => [l.lun, l.path])).toEqual([[0, null], [1, file]]);
    expect(t.acls).toEqual([]);
    // The re-run drew new credentials: they replace the first ones, which can no longer log in.
    expect(t.accounts).toEqual([JSON.parse(again.providerLocation!).chapUser]);
    expect(await tgtadm.accounts()).not.toContain(JSON.parse(providerLocation!).chapUser);
    expect(await listed(INI)).not.toContain(id);
    await backend.deleteVolume({ id, size: 1, providerLocation: again.providerLocation });
    await backend.deleteVolume({ id, size: 1, providerLocation });
    expect(await backend.target(id)).toBeNull();
  });

  it('exports to the connector that asked only, with CHAP; multipath lists both portals; terminate revokes; delete removes all', async () => {
    const id = '132bc10b-6826-4624-9039-370037bf32d9';
    const { providerLocation } = await backend.createVolume({ id, size: 1 });
    const vol: BackendVolume = { id, size: 1, providerLocation };
    const single = await backend.initializeConnection(vol, { initiator: INI, multipath: false });
    expect(iscsiData(single)).toMatchObject({ target_portal: portals[0], target_iqn: `iqn.2010-10.org.openstack:volume-${id}`, target_lun: 1, auth_method: 'CHAP' });
    expect(iscsiData(single).target_portals).toBeUndefined();
    const multi = await backend.initializeConnection(vol, parseConnector({ initiator: INI, multipath: 'True' }));
    expect(iscsiData(multi).target_portals).toEqual(portals);
    expect((await backend.target(id))!.acls).toEqual([INI]);
    expect(await listed(INI)).toContain(id);
    expect(await listed(INI, portals[1])).toContain(id);
    expect(await listed(OTHER)).not.toContain(id);
    // CHAP: listing LUNs needs a login, which fails without the secret and works with it.
    const noChap = await run('iscsi-ls', ['-s', '-i', INI, `iscsi://${portals[0]}`]);
    expect(noChap.stdout + noChap.stderr).toMatch(/Authentication failure/);
    const { auth_username: user, auth_password: pass } = iscsiData(single);
    const withChap = await run('iscsi-ls', ['-s', '-i', INI, `iscsi://${user}%${pass}@${portals[0]}`]);
    expect(withChap.stdout).toMatch(/Lun:1\s+Type:DIRECT_ACCESS/);

    await backend.initializeConnection(vol, { initiator: OTHER, multipath: false });
    await backend.terminateConnection(vol, { initiator: INI, multipath: false });
    await backend.terminateConnection(vol, { initiator: INI, multipath: false });
    expect((await backend.target(id))!.acls).toEqual([OTHER]);
    await backend.terminateConnection(vol, null);
    expect((await backend.target(id))!.acls).toEqual([]);
    expect(await listed(OTHER)).not.toContain(id);

    await backend.deleteVolume(vol);
    await backend.deleteVolume(vol);
    expect(await backend.target(id)).toBeNull();
    expect(await tgtadm.accounts()).not.toContain(user);
    expect(existsSync(join(dir, `volume-${id}.img`))).toBe(false);
    // The CHAP password was on tgtadm's command line once; no record of any command holds it.
    expect(records.length).toBeGreaterThan(10);
    expect(JSON.stringify(records)).not.toContain(pass);
  });

  it('converges after a crash half-way (LUN and account missing) and after tgtd lost everything', async () => {
    const id = 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf';
    const { providerLocation } = await backend.createVolume({ id, size: 1 });
    const vol: BackendVolume = { id, size: 1, providerLocation };
    const loc = JSON.parse(providerLocation!) as { chapUser: string };
    const tid = String((await backend.target(id))!.tid);
    await tgtadm.must(['--op', 'unbind', '--mode', 'account', '--tid', tid, '--user', loc.chapUser]);
    await tgtadm.must(['--op', 'delete', '--mode', 'account', '--user', loc.chapUser]);
    await tgtadm.must(['--op', 'delete', '--mode', 'logicalunit', '--tid', tid, '--lun', '1']);
    await backend.initializeConnection(vol, { initiator: INI, multipath: false });
    let t = (await backend.target(id))!;
    expect([t.luns.map((l) => l.lun), t.accounts, t.acls]).toEqual([[0, 1], [loc.chapUser], [INI]]);

    // tgtd restarted: its targets are gone; the next initialize rebuilds this one from the file.
    await tgtd.stop();
    await tgtd.ensure({ start: true });
    expect(await backend.target(id)).toBeNull();
    await backend.initializeConnection(vol, { initiator: INI, multipath: false });
    t = (await backend.target(id))!;
    expect([t.luns.map((l) => l.lun), t.accounts, t.acls]).toEqual([[0, 1], [loc.chapUser], [INI]]);
    expect(await listed(INI)).toContain(id);
    await backend.deleteVolume(vol);
  });

  it('refuses a connector without an initiator (400) and a LUN path outside its directory', async () => {
    const id = '62b302e5-6d95-4e61-8dd4-6aa8b1049545';
    const { providerLocation } = await backend.createVolume({ id, size: 1 });
    await expect(backend.initializeConnection({ id, size: 1, providerLocation }, { host: 'compute1', multipath: false })).rejects.toMatchObject({ status: 400 });
    const evil = JSON.stringify({ ...JSON.parse(providerLocation!), path: '/etc/passwd' });
    await expect(backend.deleteVolume({ id, size: 1, providerLocation: evil })).rejects.toThrow(/refusing LUN file outside/);
    await backend.deleteVolume({ id, size: 1, providerLocation });
  });
});
