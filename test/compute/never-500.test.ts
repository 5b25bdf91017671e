/**
 * A property over every compute route issue 21 added: whatever a client sends — bodies shaped
 * like the route's with random values, random JSON, random ids in the path, random query
 * strings, any microversion, as an admin or a member — the answer is never a 5xx, an error has
 * Nova's fault body, and a refused request changes nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', ' ', 'x'.repeat(300), 'nova', 'nova:compute-1', 'default', '-1', '0', '1', 'true', 'none', 'auto'));
const uuidish = fc.oneof(fc.uuid(), text);
const num = fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.double(), fc.constantFrom('1', '-1', '1.5', 'abc', 2 ** 31, null));
const bool = fc.oneof(fc.boolean(), fc.constantFrom('true', 'False', 'yes', 'maybe', 1, 0, null));
const metadata = fc.dictionary(text, fc.oneof(text, num), { maxKeys: 3 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** A record whose keys may each be missing. */
const partial = (o: Record<string, fc.Arbitrary<unknown>>) => fc.record(o, { requiredKeys: [] });

const bdm = partial({
  source_type: fc.oneof(fc.constantFrom('volume', 'image', 'blank', 'snapshot'), text),
  destination_type: fc.oneof(fc.constantFrom('volume', 'local'), text),
  uuid: uuidish,
  boot_index: fc.oneof(num, fc.constantFrom('0', '-1', 0, -1)),
  volume_size: num,
  delete_on_termination: bool,
  device_name: fc.oneof(text, fc.constantFrom('/dev/vda', 'vdb', '/dev/sdz')),
  tag: text,
  volume_type: text,
  disk_bus: fc.oneof(text, fc.constantFrom('virtio', 'scsi')),
});

const serverBody = fc.record({
  server: partial({
    name: text,
    imageRef: fc.oneof(fc.constant(TINY_IMAGE_ID), fc.constant(''), uuidish),
    flavorRef: fc.oneof(fc.constantFrom('1', '2', '42', 1), text),
    adminPass: text,
    key_name: text,
    user_data: fc.oneof(fc.constant('aGk='), text),
    metadata,
    availability_zone: text,
    networks: fc.oneof(fc.constantFrom('none', 'auto'), fc.array(partial({ uuid: uuidish, port: uuidish, fixed_ip: text, tag: text }), { maxLength: 2 }), text),
    block_device_mapping_v2: fc.array(bdm, { maxLength: 3 }),
    block_device_mapping: fc.array(partial({ volume_id: uuidish, device_name: text, delete_on_termination: bool, volume_size: num }), { maxLength: 2 }),
    min_count: num,
    max_count: num,
    return_reservation_id: bool,
    security_groups: fc.array(partial({ name: text }), { maxLength: 2 }),
    config_drive: bool,
    description: text,
    tags: fc.array(text, { maxLength: 3 }),
    trusted_image_certificates: fc.oneof(fc.array(text, { maxLength: 2 }), fc.constant(null)),
    host: text,
    hypervisor_hostname: text,
    hostname: text,
    personality: fc.array(partial({ path: text, contents: text }), { maxLength: 2 }),
  }),
  'os:scheduler_hints': maybe(partial({ same_host: uuidish, different_host: fc.array(fc.uuid(), { maxLength: 2 }), group: uuidish, query: text })),
});

const flavorBody = fc.record({
  flavor: partial({
    name: text,
    id: fc.oneof(text, num),
    ram: num,
    vcpus: num,
    disk: num,
    'OS-FLV-EXT-DATA:ephemeral': num,
    swap: num,
    rxtx_factor: num,
    'os-flavor-access:is_public': bool,
    description: fc.oneof(text, fc.constant(null)),
  }),
});

const specKey = fc.oneof(text, fc.constantFrom('hw:cpu_policy', 'hw:numa_nodes', 'hw:foo', 'quota:cpu_shares', 'trait:HW_CPU_X86_AVX', 'resources:VCPU', 'plain'));
const specs = fc.record({ extra_specs: fc.dictionary(specKey, fc.oneof(text, num), { maxKeys: 3 }) });
const oneSpec = fc.dictionary(specKey, fc.oneof(text, num), { minKeys: 0, maxKeys: 2 });
const tenantAction = fc.oneof(fc.record({ addTenantAccess: partial({ tenant: text }) }), fc.record({ removeTenantAccess: partial({ tenant: text }) }), fc.record({ other: text }));
const quotaBody = fc.record({ quota_set: fc.dictionary(fc.constantFrom('instances', 'cores', 'ram', 'metadata_items', 'key_pairs', 'floating_ips', 'force', 'injected_files', 'bogus'), fc.oneof(num, bool), { maxKeys: 4 }) });
const serviceBody = fc.oneof(
  partial({ host: fc.oneof(fc.constantFrom('compute-1', 'compute-2'), text), binary: fc.oneof(fc.constant('nova-compute'), text), disabled_reason: text, forced_down: bool }),
  partial({ status: fc.oneof(fc.constantFrom('enabled', 'disabled'), text), disabled_reason: text, forced_down: bool }),
);
const volumeBody = fc.record({ volume: partial({ size: num, display_name: text, display_description: text, volume_type: text, metadata, availability_zone: text, snapshot_id: uuidish }) });
const snapshotBody = fc.record({ snapshot: partial({ volume_id: uuidish, force: bool, display_name: text, display_description: text }) });
const eventsBody = fc.record({
  events: fc.array(
    partial({
      name: fc.oneof(fc.constantFrom('volume-extended', 'network-changed', 'network-vif-plugged', 'power-update'), text),
      server_uuid: uuidish,
      status: fc.oneof(fc.constantFrom('completed', 'failed', 'in-progress'), text),
      tag: fc.oneof(uuidish, text),
    }),
    { maxLength: 3 },
  ),
});

interface Route {
  readonly method: Method;
  readonly path: string;
  readonly body?: fc.Arbitrary<unknown>;
}

const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/flavors' },
  { method: 'GET', path: '/flavors/detail' },
  { method: 'POST', path: '/flavors', body: flavorBody },
  { method: 'GET', path: '/flavors/{flavor}' },
  { method: 'PUT', path: '/flavors/{flavor}', body: fc.record({ flavor: partial({ description: fc.oneof(text, fc.constant(null)) }) }) },
  { method: 'DELETE', path: '/flavors/{flavor}' },
  { method: 'POST', path: '/flavors/{flavor}/action', body: tenantAction },
  { method: 'GET', path: '/flavors/{flavor}/os-flavor-access' },
  { method: 'GET', path: '/flavors/{flavor}/os-extra_specs' },
  { method: 'POST', path: '/flavors/{flavor}/os-extra_specs', body: specs },
  { method: 'GET', path: '/flavors/{flavor}/os-extra_specs/{key}' },
  { method: 'PUT', path: '/flavors/{flavor}/os-extra_specs/{key}', body: oneSpec },
  { method: 'DELETE', path: '/flavors/{flavor}/os-extra_specs/{key}' },
  { method: 'POST', path: '/servers', body: serverBody },
  { method: 'GET', path: '/servers/{server}' },
  { method: 'GET', path: '/servers/detail' },
  { method: 'GET', path: '/servers/{server}/os-instance-actions' },
  { method: 'GET', path: '/servers/{server}/os-instance-actions/{request}' },
  { method: 'GET', path: '/os-services' },
  { method: 'PUT', path: '/os-services/{service}', body: serviceBody },
  { method: 'DELETE', path: '/os-services/{service}' },
  { method: 'GET', path: '/os-hypervisors' },
  { method: 'GET', path: '/os-hypervisors/detail' },
  { method: 'GET', path: '/os-hypervisors/statistics' },
  { method: 'GET', path: '/os-hypervisors/{hypervisor}' },
  { method: 'GET', path: '/os-hypervisors/{hypervisor}/uptime' },
  { method: 'GET', path: '/os-hypervisors/{hypervisor}/search' },
  { method: 'GET', path: '/os-hypervisors/{hypervisor}/servers' },
  { method: 'GET', path: '/os-availability-zone' },
  { method: 'GET', path: '/os-availability-zone/detail' },
  { method: 'GET', path: '/limits' },
  { method: 'GET', path: '/os-quota-sets/{project}' },
  { method: 'GET', path: '/os-quota-sets/{project}/detail' },
  { method: 'GET', path: '/os-quota-sets/{project}/defaults' },
  { method: 'PUT', path: '/os-quota-sets/{project}', body: quotaBody },
  { method: 'DELETE', path: '/os-quota-sets/{project}' },
  { method: 'GET', path: '/os-volumes' },
  { method: 'GET', path: '/os-volumes/detail' },
  { method: 'POST', path: '/os-volumes', body: volumeBody },
  { method: 'GET', path: '/os-volumes/{volume}' },
  { method: 'DELETE', path: '/os-volumes/{volume}' },
  { method: 'GET', path: '/os-snapshots' },
  { method: 'GET', path: '/os-snapshots/detail' },
  { method: 'POST', path: '/os-snapshots', body: snapshotBody },
  { method: 'GET', path: '/os-snapshots/{snapshot}' },
  { method: 'DELETE', path: '/os-snapshots/{snapshot}' },
  { method: 'POST', path: '/os-server-external-events', body: eventsBody },
];

const VERSIONS = ['2.1', '2.3', '2.11', '2.19', '2.21', '2.51', '2.58', '2.62', '2.66', '2.84', '2.28', '2.33', '2.35', '2.36', '2.37', '2.47', '2.52', '2.53', '2.55', '2.57', '2.61', '2.67', '2.74', '2.75', '2.79', '2.86', '2.88', '2.90', 'latest', '', '9.9', 'x'];
const QUERY_KEYS = ['limit', 'marker', 'is_public', 'minRam', 'minDisk', 'sort_key', 'sort_dir', 'host', 'binary', 'with_servers', 'hypervisor_hostname_pattern', 'tenant_id', 'user_id', 'offset', 'all_tenants', 'changes-since', 'changes-before', 'bogus'];

describe('every compute route added for issue 21 under random input', () => {
  let t: TestCloud;
  const tokens: Record<'admin' | 'demo', string> = { admin: '', demo: '' };
  const ids: Record<string, string[]> = {};
  let tried = 0;
  const byStatus = new Map<number, number>();

  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'three-hosts' });
    const admin = await t.token('admin');
    const demo = await t.token('demo');
    tokens.admin = admin.token;
    tokens.demo = demo.token;
    const hosts = await t.cloud.compute.hosts.list();
    const server = await t.api('POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { name: 'kept', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    const volume = await t.api('POST', `/volume/v3/${demo.projectId}/volumes`, { token: demo.token, body: { volume: { size: 1 } } });
    await t.cloud.settle();
    ids['flavor'] = ['1', '2', '42', 'm1.tiny'];
    ids['key'] = ['hw:cpu_policy', 'plain'];
    ids['server'] = [server.body.server.id];
    // An attach and a detach in the server's journal: its instance actions and their request ids.
    const attach = await t.api('POST', `/compute/v2.1/servers/${server.body.server.id}/os-volume_attachments`, { token: demo.token, body: { volumeAttachment: { volumeId: volume.body.volume.id } } });
    await t.cloud.settle();
    const detach = await t.api('DELETE', `/compute/v2.1/servers/${server.body.server.id}/os-volume_attachments/${volume.body.volume.id}`, { token: demo.token });
    await t.cloud.settle();
    ids['request'] = [String(attach.headers.get('x-openstack-request-id')), String(detach.headers.get('x-openstack-request-id')), 'req-none'];
    ids['service'] = [...hosts.map((h) => h.uuid), ...hosts.map((h) => String(h.seq)), 'enable', 'disable', 'disable-log-reason', 'force-down'];
    ids['hypervisor'] = [...hosts.map((h) => h.uuid), ...hosts.map((h) => String(h.seq)), 'compute'];
    ids['project'] = [demo.projectId, admin.projectId];
    ids['volume'] = [volume.body.volume.id];
    ids['snapshot'] = [];
  });
  afterAll(async () => {
    console.log(`compute routes under random input: ${tried} requests, by status ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`);
    await t?.close();
  });

  /** What a refused request must leave as it was. */
  const state = async () => {
    const db = t.cloud.db.db as unknown as { selectFrom(t: string): { selectAll(): { execute(): Promise<unknown[]> } } };
    const rows = async (table: string) => JSON.stringify(await db.selectFrom(table).selectAll().execute());
    return {
      flavors: await rows('flavors'),
      specs: await rows('flavor_extra_specs'),
      access: await rows('flavor_projects'),
      quotas: await rows('quotas'),
      services: (await t.cloud.compute.hosts.list()).map((h) => [h.host, h.disabled, h.disabled_reason, h.forced_down]),
      servers: (await t.cloud.computeRepository.listServers(undefined)).map((s) => s.id).sort(),
      volumes: JSON.stringify(((await t.api('GET', '/volume/v3/volumes/detail?all_tenants=1', { token: tokens.admin })).body.volumes as Array<{ id: string; status: string }>).map((v) => [v.id, v.status]).sort()),
    };
  };

  it('never answers 5xx, answers errors with a Nova fault body, and a refusal changes nothing', async () => {
    const arb = fc.constantFrom(...ROUTES).chain((route) =>
      fc.record({
        route: fc.constant(route),
        fills: fc.array(fc.oneof(fc.nat(), fc.string({ minLength: 1, maxLength: 30 }), fc.uuid()), { minLength: 2, maxLength: 2 }),
        query: fc.dictionary(fc.constantFrom(...QUERY_KEYS), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('1', 'true', 'none', 'x', '-1')), { maxKeys: 3 }),
        body: route.body ? fc.oneof({ weight: 3, arbitrary: route.body }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }) : fc.constant(undefined),
        version: fc.constantFrom(...VERSIONS),
        as: fc.constantFrom<'admin' | 'demo'>('admin', 'demo'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ route, fills, query, body, version, as }) => {
        let i = 0;
        const path = route.path.replace(/\{(\w+)\}/g, (_w, name: string) => {
          const f = fills[i++ % fills.length];
          const known = ids[name] ?? [];
          return encodeURIComponent(typeof f === 'number' ? (known.length > 0 ? (known[f % known.length] as string) : String(f)) : (f as string));
        });
        const qs = new URLSearchParams(query).toString();
        const url = `/compute/v2.1${path}${qs ? `?${qs}` : ''}`;
        const before = await state();
        const r = await t.cloud.app.inject({
          method: route.method,
          url,
          headers: { 'x-auth-token': tokens[as], 'content-type': 'application/json', 'openstack-api-version': `compute ${version}` },
          ...(body !== undefined && route.method !== 'GET' && route.method !== 'DELETE' ? { payload: JSON.stringify(body) } : {}),
        });
        tried++;
        byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
        const what = `${as} ${route.method} ${url} @${version} ${JSON.stringify(body)?.slice(0, 400)} → ${r.statusCode} ${r.body.slice(0, 400)}`;
        expect(r.statusCode, what).toBeLessThan(500);
        if (r.statusCode >= 400) {
          const fault = Object.values(r.json() as Record<string, { code: number; message: string }>)[0];
          expect(fault?.code, what).toBe(r.statusCode);
          expect(typeof fault?.message, what).toBe('string');
          expect(await state(), `a refused request changed state: ${what}`).toEqual(before);
        }
        // Keep the cloud usable for the runs that follow: what a run created goes again.
        await t.cloud.settle();
      }),
      { numRuns: Number(process.env['HITCH_PROPERTY_RUNS'] ?? 600) },
    );
    expect([...byStatus.keys()].some((s) => s < 300)).toBe(true);
  }, 600_000);
});
