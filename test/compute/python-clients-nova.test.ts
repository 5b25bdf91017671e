/**
 * Debian's real `openstack` and `nova` clients against the compute calls around an attach
 * (issue 21): flavors, admin and discovery views, server create with an admin password, boot
 * from volume, delete_on_termination, online extend and the server's events — on the
 * all-in-one cloud of `npm start` (the simulated data plane), as admin where Nova requires it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimHypervisor } from '../../src/sim/sim-hypervisor.ts';
import { missingClients, PythonClients } from '../../src/test-support/python-clients.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { ADMIN_PASSWORD, DEMO_PASSWORD, startTestCloud, type TestCloud } from '../support/cloud.ts';

const missing = missingClients(['openstack', 'nova']);
if (missing.length > 0 && !peerRequired()) console.warn(`[hitch] skipping compute client tests: ${missing.join(', ')} not installed (scripts/install-test-peers.sh)`);
const d = missing.length > 0 && !peerRequired() ? describe.skip : describe;

/** Each client command starts a Python interpreter: seconds each on a busy 2-core machine. */
const SLOW = 300_000;

d('real OpenStack clients: flavors, hosts, quotas and server create', () => {
  let t: TestCloud;
  let admin: PythonClients;
  let demo: PythonClients;
  beforeAll(async () => {
    expect(missing, 'OpenStack clients must be installed').toEqual([]);
    t = await startTestCloud({ scenario: 'three-hosts' });
    admin = new PythonClients({ baseUrl: t.url, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' });
    demo = new PythonClients({ baseUrl: t.url, username: 'demo', password: DEMO_PASSWORD, projectName: 'demo' });
  });
  afterAll(async () => {
    admin?.dispose();
    demo?.dispose();
    await t?.close();
  });

  const json = async (c: PythonClients, args: string[]): Promise<any> => {
    const r = await c.run('openstack', [...args, '-f', 'json']);
    expect(r.code, `openstack ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('flavor list, flavor show m1.tiny, flavor create --property hw:foo=bar f1', async () => {
    const list = await json(demo, ['flavor', 'list']);
    expect(list.map((f: { Name: string }) => f.Name)).toEqual(['m1.tiny', 'm1.small', 'm1.medium', 'h1.micro']);
    const tiny = await json(demo, ['flavor', 'show', 'm1.tiny']);
    expect(tiny).toMatchObject({ name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 });
    const f1 = await json(admin, ['flavor', 'create', '--ram', '256', '--vcpus', '1', '--disk', '1', '--property', 'hw:foo=bar', 'f1']);
    expect(f1.name).toBe('f1');
    expect(f1.properties).toMatchObject({ 'hw:foo': 'bar' });
    const shown = await json(demo, ['flavor', 'show', 'f1']);
    expect(shown.properties).toMatchObject({ 'hw:foo': 'bar' });
    // A member may not create flavors: Nova's policy answer.
    const refused = await demo.run('openstack', ['flavor', 'create', '--ram', '64', '--vcpus', '1', '--disk', '0', 'nope']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("403: Client Error for url: ");
    expect(refused.stderr).toContain("Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
  }, SLOW);

  it('availability zone list, nova limits, hypervisor list, compute service list and set --disable', async () => {
    const zones = await json(demo, ['availability', 'zone', 'list', '--compute']);
    expect(zones).toEqual([{ 'Zone Name': 'nova', 'Zone Status': 'available' }]);
    // `openstack limits show --absolute` asks compute and block storage, and lists both.
    const absolute = await json(demo, ['limits', 'show', '--absolute']);
    const limit = (name: string): unknown => absolute.find((l: { Name: string }) => l.Name === name)?.Value;
    expect([limit('maxTotalInstances'), limit('totalInstancesUsed'), limit('maxTotalCores'), limit('totalCoresUsed')]).toEqual([10, 0, 20, 0]);
    // Block storage's side: Cinder's default quotas, nothing used yet.
    expect([limit('maxTotalVolumes'), limit('totalVolumesUsed'), limit('maxTotalVolumeGigabytes'), limit('totalGigabytesUsed')]).toEqual([10, 0, 1000, 0]);
    // `nova limits` asks compute only.
    const limits = await demo.run('nova', ['limits']);
    expect(limits.code, limits.stderr).toBe(0);
    expect(limits.stdout).toMatch(/\| Instances\s+\| 0\s+\| 10\s+\|/);
    expect(limits.stdout).toMatch(/\| Cores\s+\| 0\s+\| 20\s+\|/);
    const hypervisors = await json(admin, ['hypervisor', 'list']);
    expect(hypervisors.map((h: { 'Hypervisor Hostname': string }) => h['Hypervisor Hostname'])).toEqual(['compute-1', 'compute-2', 'compute-3']);
    expect(hypervisors.every((h: { State: string }) => h.State === 'up')).toBe(true);
    let services = await json(admin, ['compute', 'service', 'list']);
    expect(services.map((s: { Host: string; Binary: string; State: string; Status: string }) => [s.Host, s.Binary, s.State, s.Status])).toEqual([
      ['compute-1', 'nova-compute', 'up', 'enabled'],
      ['compute-2', 'nova-compute', 'up', 'enabled'],
      ['compute-3', 'nova-compute', 'up', 'enabled'],
    ]);
    const disable = await admin.run('openstack', ['compute', 'service', 'set', '--disable', '--disable-reason', 'maintenance', 'compute-1', 'nova-compute']);
    expect(disable.code, disable.stderr).toBe(0);
    services = await json(admin, ['compute', 'service', 'list', '--long']);
    expect(services.find((s: { Host: string }) => s.Host === 'compute-1')).toMatchObject({ Status: 'disabled', 'Disabled Reason': 'maintenance' });
    // The disabled host gets no new server.
    for (let i = 0; i < 3; i++) {
      const s = await json(admin, ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--wait', `spread-${i}`]);
      expect(s.status).toBe('ACTIVE');
      expect(s['OS-EXT-SRV-ATTR:host']).not.toBe('compute-1');
    }
    const enable = await admin.run('openstack', ['compute', 'service', 'set', '--enable', 'compute-1', 'nova-compute']);
    expect(enable.code, enable.stderr).toBe(0);
  }, SLOW);

  it('server event list demo-server shows the attach and the detach with their request ids', async () => {
    // `npm start` creates demo-server on its first start; the test cloud is made the same way, by the client.
    const created = await json(demo, ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--wait', 'demo-server']);
    expect(created.status).toBe('ACTIVE');
    const vol = await json(demo, ['volume', 'create', '--size', '1', 'evented']);
    await t.cloud.settle();
    const add = await demo.run('openstack', ['server', 'add', 'volume', 'demo-server', vol.id]);
    expect(add.code, add.stderr).toBe(0);
    await t.cloud.settle();
    const remove = await demo.run('openstack', ['server', 'remove', 'volume', 'demo-server', vol.id]);
    expect(remove.code, remove.stderr).toBe(0);
    await t.cloud.settle();
    const server = await json(demo, ['server', 'show', 'demo-server']);
    // The request ids the compute API gave the two calls, as its journal recorded them.
    const journal = (await t.cloud.computeRepository.listOperations(server.id, vol.id)).map((o) => [o.kind, o.request_id]);
    expect(journal.map(([k]) => k)).toEqual(['detach', 'attach']);
    const events = await json(demo, ['server', 'event', 'list', 'demo-server']);
    const mine = events.filter((e: { 'Request ID': string }) => journal.some(([, r]) => r === e['Request ID']));
    expect(mine.map((e: { Action: string; 'Request ID': string }) => [e.Action, e['Request ID']])).toEqual([
      ['detach_volume', journal[0]?.[1]],
      ['attach_volume', journal[1]?.[1]],
    ]);
    // An admin sees the action's events and their outcome.
    const shown = await json(admin, ['server', 'event', 'show', server.id, journal[1]?.[1] as string]);
    expect(shown.action).toBe('attach_volume');
    expect(JSON.stringify(shown.events)).toContain('compute_attach_volume');
    expect(JSON.stringify(shown.events)).toContain('Success');
  }, SLOW);

  it('server delete removes a volume attached with --enable-delete-on-termination, and keeps the others', async () => {
    const s = await json(demo, ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--wait', 'short-lived']);
    expect(s.status).toBe('ACTIVE');
    const doomed = await json(demo, ['volume', 'create', '--size', '1', 'dot-doomed']);
    const kept = await json(demo, ['volume', 'create', '--size', '1', 'dot-kept']);
    await t.cloud.settle();
    const add = await demo.run('openstack', ['--os-compute-api-version', '2.79', 'server', 'add', 'volume', '--enable-delete-on-termination', 'short-lived', doomed.id]);
    expect(add.code, add.stderr).toBe(0);
    await t.cloud.settle();
    const add2 = await demo.run('openstack', ['server', 'add', 'volume', 'short-lived', kept.id]);
    expect(add2.code, add2.stderr).toBe(0);
    await t.cloud.settle();
    const del = await demo.run('openstack', ['server', 'delete', '--wait', 'short-lived']);
    expect(del.code, del.stderr).toBe(0);
    await t.cloud.settle();
    const gone = await demo.run('openstack', ['volume', 'show', doomed.id]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('No volume with a name or ID');
    expect((await json(demo, ['volume', 'show', kept.id])).status).toBe('available');
  }, SLOW);

  it('server create --volume V --flavor m1.tiny bfv --wait reaches ACTIVE with V attached as its root disk', async () => {
    const v = await json(demo, ['volume', 'create', '--size', '1', 'boot-volume']);
    await t.cloud.settle();
    const s = await json(demo, ['server', 'create', '--volume', v.id, '--flavor', 'm1.tiny', '--wait', 'bfv']);
    expect(s.status).toBe('ACTIVE');
    const vols = await json(demo, ['server', 'volume', 'list', 'bfv']);
    expect(vols.map((x: { Device: string; 'Volume ID': string }) => [x.Device, x['Volume ID']])).toEqual([['/dev/vda', v.id]]);
    const shown = await json(demo, ['volume', 'show', v.id]);
    expect(shown.status).toBe('in-use');
  }, SLOW);

  it('volume set --size 3 on an attached volume: the size changes for the server, on the host and in the guest', async () => {
    const s = await json(demo, ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--wait', 'growing']);
    const v = await json(demo, ['volume', 'create', '--size', '1', 'grown']);
    await t.cloud.settle();
    const add = await demo.run('openstack', ['server', 'add', 'volume', 'growing', v.id]);
    expect(add.code, add.stderr).toBe(0);
    await t.cloud.settle();
    // In-use extend is block storage's 3.42: the client asks for it.
    const set = await demo.run('openstack', ['--os-volume-api-version', '3.42', 'volume', 'set', '--size', '3', v.id]);
    expect(set.code, set.stderr).toBe(0);
    await t.cloud.settle();
    const shown = await json(demo, ['volume', 'show', v.id]);
    expect([shown.size, shown.status]).toEqual([3, 'in-use']);
    const attached = await json(demo, ['server', 'volume', 'list', 'growing']);
    expect(attached.map((x: { 'Volume ID': string }) => x['Volume ID'])).toEqual([v.id]);
    const listed = await json(demo, ['volume', 'list', '--long']);
    expect(listed.find((x: { ID: string }) => x.ID === v.id)).toMatchObject({ Size: 3, Status: 'in-use' });
    // The guest's disk (the simulated QEMU's, grown only once the host's device has).
    const server = await json(admin, ['server', 'show', s.id]);
    const host = t.cloud.hosts.find((h) => h.name === server['OS-EXT-SRV-ATTR:host'])!;
    const domain = (host.hypervisor as SimHypervisor).domains().find((d) => d.uuid === s.id)!;
    expect(domain.liveDisks.find((d) => d.serial === v.id)?.guestBytes).toBe(3 * 1024 ** 3);
    const events = await json(demo, ['server', 'event', 'list', 'growing']);
    expect(events.map((e: { Action: string }) => e.Action)).toContain('extend_volume');
  }, SLOW);

  it('server create with an admin password succeeds, and admins see the host in server show', async () => {
    const s = await json(demo, ['server', 'create', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--password', 'Hitch-Pass-1', '--property', 'role=web', '--wait', 'with-pass']);
    expect(s.status).toBe('ACTIVE');
    expect(s.adminPass).toBe('Hitch-Pass-1');
    const nova = await demo.run('nova', ['boot', '--image', 'hitch-tiny', '--flavor', 'm1.tiny', '--admin-pass', 'Hitch-Pass-2', '--key-name', 'k1', 'nova-pass']);
    expect(nova.code, nova.stderr).toBe(0);
    expect(nova.stdout).toMatch(/\| adminPass\s+\| Hitch-Pass-2/);
    await t.cloud.settle();
    const asAdmin = await json(admin, ['server', 'show', s.id]);
    expect(asAdmin['OS-EXT-SRV-ATTR:host']).toMatch(/^compute-/);
    expect(asAdmin['OS-EXT-SRV-ATTR:hypervisor_hostname']).toBe(asAdmin['OS-EXT-SRV-ATTR:host']);
    expect(asAdmin.properties).toMatchObject({ role: 'web' });
    const keyed = await json(demo, ['server', 'show', 'nova-pass']);
    expect(keyed.key_name).toBe('k1');
  }, SLOW);
});
