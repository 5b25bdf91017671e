/**
 * The compute API's calls around an attach, against the all-in-one cloud over HTTP: flavors and
 * their extra specs and access, server create with what Nova accepts, quotas and limits, compute
 * services and hypervisors, availability zones, and the volume proxy — each answer checked
 * against tempest's strict response schema for its microversion, and each refusal against
 * Nova's status and message.
 */
import type { SimHypervisor } from '../../src/sim/sim-hypervisor.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { checkSchemas, tempestMissing, type SchemaCheck } from '../../src/test-support/tempest-schemas.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';

const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });

if (tempestMissing() && !peerRequired()) console.warn('[hitch] tempest schema checks skipped: python3-tempest is not installed (scripts/install-test-peers.sh)');

describe('the compute API around an attach', () => {
  let t: TestCloud;
  let admin: { token: string; projectId: string };
  let demo: { token: string; projectId: string };
  const checks: Array<SchemaCheck & { what: string }> = [];

  /** Call and remember the answer for tempest's schema `schema`. */
  async function call(schema: string | null, method: string, path: string, o: { token?: string; body?: unknown; v?: string } = {}) {
    const r = await t.api(method, path, { token: o.token ?? admin.token, ...(o.body !== undefined ? { body: o.body } : {}), headers: mv(o.v ?? '2.1') });
    if (schema) checks.push({ schema: `compute.${schema}`, status: r.status, body: r.body, what: `${method} ${path} @${o.v ?? '2.1'}` });
    return r;
  }

  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'three-hosts' });
    admin = await t.token('admin');
    demo = await t.token('demo');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('flavors: list, detail and show by microversion; create, access, extra specs, delete', async () => {
    let r = await call('v2_1.flavors.list_flavors', 'GET', '/compute/v2.1/flavors');
    expect(r.body.flavors.map((f: { name: string }) => f.name)).toEqual(['m1.tiny', 'm1.small', 'm1.medium', 'h1.micro']);
    r = await call('v2_55.flavors.list_flavors', 'GET', '/compute/v2.1/flavors', { v: '2.55' });
    expect(r.body.flavors[0].description).toBeNull();
    await call('v2_1.flavors.list_flavors_details', 'GET', '/compute/v2.1/flavors/detail');
    await call('v2_55.flavors.list_flavors_details', 'GET', '/compute/v2.1/flavors/detail', { v: '2.55' });
    r = await call('v2_61.flavors.list_flavors_details', 'GET', '/compute/v2.1/flavors/detail', { v: '2.61' });
    expect(r.body.flavors[0].extra_specs).toEqual({});
    r = await call('v2_61.flavors.create_update_get_flavor_details', 'GET', '/compute/v2.1/flavors/1', { v: '2.75' });
    expect(r.body.flavor.swap).toBe(0);
    r = await call(null, 'GET', '/compute/v2.1/flavors/1');
    expect(r.body.flavor.swap).toBe('');

    // Create: admins only, Nova's 200; a private flavor is visible to its projects only.
    expect((await call(null, 'POST', '/compute/v2.1/flavors', { token: demo.token, body: { flavor: { name: 'x', ram: 64, vcpus: 1, disk: 0 } } })).status).toBe(403);
    r = await call('v2_61.flavors.create_update_get_flavor_details', 'POST', '/compute/v2.1/flavors', {
      v: '2.61',
      body: { flavor: { name: 'private-1', id: 'p1', ram: 256, vcpus: 2, disk: 1, 'os-flavor-access:is_public': false, description: 'for demo only' } },
    });
    expect(r.status).toBe(200);
    expect(r.body.flavor).toMatchObject({ id: 'p1', 'os-flavor-access:is_public': false, description: 'for demo only', extra_specs: {} });
    expect((await call(null, 'POST', '/compute/v2.1/flavors', { body: { flavor: { name: 'private-1', ram: 64, vcpus: 1, disk: 0 } } })).status).toBe(409);
    expect((await call(null, 'GET', '/compute/v2.1/flavors/p1', { token: demo.token })).status).toBe(404);
    r = await call('v2_1.flavors_access.add_remove_list_flavor_access', 'POST', '/compute/v2.1/flavors/p1/action', { body: { addTenantAccess: { tenant: demo.projectId } } });
    expect(r.body.flavor_access).toEqual([{ flavor_id: 'p1', tenant_id: demo.projectId }]);
    expect((await call(null, 'POST', '/compute/v2.1/flavors/p1/action', { body: { addTenantAccess: { tenant: demo.projectId } } })).status).toBe(409);
    expect((await call(null, 'POST', '/compute/v2.1/flavors/1/action', { v: '2.7', body: { addTenantAccess: { tenant: demo.projectId } } })).status).toBe(409);
    expect((await call(null, 'POST', '/compute/v2.1/flavors/p1/action', { body: { addTenantAccess: { tenant: 'no-such-project' } } })).status).toBe(400);
    await call('v2_1.flavors_access.add_remove_list_flavor_access', 'GET', '/compute/v2.1/flavors/p1/os-flavor-access');
    expect((await call(null, 'GET', '/compute/v2.1/flavors/1/os-flavor-access')).status).toBe(404);
    expect((await call(null, 'GET', '/compute/v2.1/flavors/p1', { token: demo.token })).status).toBe(200);
    r = await call(null, 'GET', '/compute/v2.1/flavors', { token: demo.token });
    expect(r.body.flavors.map((f: { id: string }) => f.id)).toContain('p1');

    // Extra specs: admins write, everyone who sees the flavor reads; 2.61 shows them inline.
    r = await call('v2_1.flavors_extra_specs.set_get_flavor_extra_specs', 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { body: { extra_specs: { 'hw:cpu_policy': 'dedicated' } } });
    expect(r.body.extra_specs).toEqual({ 'hw:cpu_policy': 'dedicated' });
    // Numbers are taken and echoed as sent (Nova's own response schema allows them; tempest sends strings only), then kept as strings.
    r = await call(null, 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { body: { extra_specs: { answer: 42 } } });
    expect(r.body.extra_specs).toEqual({ answer: 42 });
    r = await call('v2_1.flavors_extra_specs.set_get_flavor_extra_specs', 'GET', '/compute/v2.1/flavors/p1/os-extra_specs', { token: demo.token });
    expect(r.body.extra_specs).toEqual({ answer: '42', 'hw:cpu_policy': 'dedicated' });
    r = await call('v2_1.flavors_extra_specs.set_get_flavor_extra_specs_key', 'GET', '/compute/v2.1/flavors/p1/os-extra_specs/answer');
    expect(r.body).toEqual({ answer: '42' });
    r = await call('v2_1.flavors_extra_specs.set_get_flavor_extra_specs_key', 'PUT', '/compute/v2.1/flavors/p1/os-extra_specs/answer', { body: { answer: '43' } });
    expect((await call(null, 'PUT', '/compute/v2.1/flavors/p1/os-extra_specs/answer', { body: { other: '1' } })).body.badRequest.message).toBe('Request body and URI mismatch');
    expect((await call(null, 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { token: demo.token, body: { extra_specs: { a: 'b' } } })).status).toBe(403);
    // 2.86 checks the keys Nova owns.
    r = await call(null, 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { v: '2.86', body: { extra_specs: { 'hw:foo': 'bar' } } });
    expect(r.status).toBe(400);
    expect(r.body.badRequest.message).toBe("Validation failed; extra spec 'hw:foo' does not appear to be a valid extra spec.");
    expect((await call(null, 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { v: '2.86', body: { extra_specs: { 'hw:cpu_policy': 'lazy' } } })).status).toBe(400);
    expect((await call(null, 'POST', '/compute/v2.1/flavors/p1/os-extra_specs', { v: '2.85', body: { extra_specs: { 'hw:foo': 'bar' } } })).status).toBe(200);
    r = await call('v2_61.flavors.create_update_get_flavor_details', 'GET', '/compute/v2.1/flavors/p1', { v: '2.61' });
    expect(r.body.flavor.extra_specs).toEqual({ answer: '43', 'hw:cpu_policy': 'dedicated', 'hw:foo': 'bar' });
    r = await call('v2_1.flavors_extra_specs.unset_flavor_extra_specs', 'DELETE', '/compute/v2.1/flavors/p1/os-extra_specs/hw:foo');
    expect(r.status).toBe(200);
    expect((await call(null, 'DELETE', '/compute/v2.1/flavors/p1/os-extra_specs/hw:foo')).status).toBe(404);

    // Description update from 2.55; before, the method is not there.
    expect((await call(null, 'PUT', '/compute/v2.1/flavors/p1', { body: { flavor: { description: 'x' } } })).status).toBe(404);
    r = await call('v2_55.flavors.create_update_get_flavor_details', 'PUT', '/compute/v2.1/flavors/p1', { v: '2.55', body: { flavor: { description: 'renamed' } } });
    expect(r.body.flavor.description).toBe('renamed');
    r = await call('v2_1.flavors_access.add_remove_list_flavor_access', 'POST', '/compute/v2.1/flavors/p1/action', { body: { removeTenantAccess: { tenant: demo.projectId } } });
    expect(r.body.flavor_access).toEqual([]);
    r = await call('v2_1.flavors.delete_flavor', 'DELETE', '/compute/v2.1/flavors/p1');
    expect(r.status).toBe(202);
    expect((await call(null, 'GET', '/compute/v2.1/flavors/p1')).status).toBe(404);
  });

  it('server create accepts what Nova accepts, refuses what it refuses, and shows what it stored', async () => {
    const ok = { name: 'full', imageRef: TINY_IMAGE_ID, flavorRef: '1' };
    // adminPass, key_name, user_data, metadata, availability_zone: 2.1.
    let r = await call('v2_1.servers.create_server_with_admin_pass', 'POST', '/compute/v2.1/servers', {
      token: demo.token,
      body: { server: { ...ok, adminPass: 'Secret-1', key_name: 'mykey', user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'), metadata: { role: 'db' }, availability_zone: 'nova', config_drive: true } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.server.adminPass).toBe('Secret-1');
    const id = r.body.server.id as string;
    await t.cloud.settle();
    r = await call('v2_1.servers.get_server', 'GET', `/compute/v2.1/servers/${id}`, { token: demo.token });
    expect(r.body.server).toMatchObject({ key_name: 'mykey', metadata: { role: 'db' }, config_drive: 'True', status: 'ACTIVE', 'OS-EXT-AZ:availability_zone': 'nova' });
    expect(r.body.server['OS-EXT-SRV-ATTR:host']).toBeUndefined();
    // Admins see where it runs, and (2.3) its user data.
    r = await call('v2_3.servers.get_server', 'GET', `/compute/v2.1/servers/${id}`, { v: '2.3' });
    expect(r.body.server['OS-EXT-SRV-ATTR:host']).toMatch(/^compute-/);
    expect(r.body.server['OS-EXT-SRV-ATTR:hypervisor_hostname']).toBe(r.body.server['OS-EXT-SRV-ATTR:host']);
    expect(Buffer.from(r.body.server['OS-EXT-SRV-ATTR:user_data'], 'base64').toString()).toContain('echo hi');
    await call('v2_47.servers.get_server', 'GET', `/compute/v2.1/servers/${id}`, { v: '2.47' });
    await call('v2_79.servers.get_server', 'GET', `/compute/v2.1/servers/${id}`, { v: '2.79' });
    await call('v2_79.servers.list_servers_detail', 'GET', '/compute/v2.1/servers/detail', { v: '2.79', token: demo.token });
    // A generated password when none is given.
    r = await call('v2_1.servers.create_server_with_admin_pass', 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, name: 'gen' } } });
    expect(r.body.server.adminPass).toMatch(/^[A-Za-z0-9]{12}$/);

    // Microversion gates: networks is required from 2.37 and takes none/auto; description from 2.19; tags from 2.52.
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, v: '2.37', body: { server: ok } })).status).toBe(400);
    for (const networks of ['none', 'auto']) {
      expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, v: '2.37', body: { server: { ...ok, networks } } })).status).toBe(202);
    }
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, networks: 'none' } } })).status).toBe(400);
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, v: '2.18', body: { server: { ...ok, description: 'd' } } })).status).toBe(400);
    r = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, v: '2.52', body: { server: { ...ok, networks: 'none', description: 'd', tags: ['a', 'b'] } } });
    expect(r.status).toBe(202);
    r = await call('v2_79.servers.get_server', 'GET', `/compute/v2.1/servers/${r.body.server.id}`, { v: '2.79', token: demo.token });
    expect(r.body.server).toMatchObject({ description: 'd', tags: ['a', 'b'] });
    // Unknown keys: Nova's 400 with its message.
    r = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, colour: 'blue' } } });
    expect(r.status).toBe(400);
    expect(r.body.badRequest.message).toContain("Additional properties are not allowed ('colour' was unexpected)");
    // Names of images are not ids; flavors and networks that do not exist; an unknown zone.
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, imageRef: 'hitch-tiny' } } })).status).toBe(400);
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, flavorRef: 'nope' } } })).body.badRequest.message).toBe('Flavor nope could not be found.');
    const net = '4d2a8f3e-0f0c-4c5e-9a3b-0c7a3e2b9d10';
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, v: '2.37', body: { server: { ...ok, networks: [{ uuid: net }] } } })).body.badRequest.message).toBe(`Network ${net} could not be found.`);
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, availability_zone: 'mars' } } })).status).toBe(400);
    // A host chosen by name: admins only.
    expect((await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, availability_zone: 'nova:compute-2' } } })).status).toBe(403);
    r = await call(null, 'POST', '/compute/v2.1/servers', { v: '2.74', body: { server: { ...ok, networks: 'none', host: 'compute-3' } } });
    expect(r.status).toBe(202);
    r = await call(null, 'GET', `/compute/v2.1/servers/${r.body.server.id}`);
    expect(r.body.server['OS-EXT-SRV-ATTR:host']).toBe('compute-3');
    // min_count/max_count and return_reservation_id.
    r = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { ...ok, name: 'many', min_count: 2, max_count: 2, return_reservation_id: true } } });
    expect(r.body.reservation_id).toMatch(/^r-/);
    await t.cloud.settle();
  });

  it('quotas: shown, detailed with usage, enforced at create, updated and reset; limits count what is used', async () => {
    const q = `/compute/v2.1/os-quota-sets/${demo.projectId}`;
    let r = await call('v2_1.quotas.get_quota_set', 'GET', q, { token: demo.token });
    expect(r.body.quota_set).toMatchObject({ id: demo.projectId, instances: 10, cores: 20, ram: 51200 });
    await call('v2_36.quotas.get_quota_set', 'GET', q, { v: '2.36' });
    await call('v2_57.quotas.get_quota_set', 'GET', q, { v: '2.57' });
    await call('v2_57.quotas.get_quota_set', 'GET', `${q}/defaults`, { v: '2.57' });
    r = await call('v2_57.quotas.get_quota_set_details', 'GET', `${q}/detail`, { v: '2.57' });
    const used = r.body.quota_set.instances.in_use as number;
    expect(used).toBeGreaterThan(0);
    expect((await call(null, 'GET', `/compute/v2.1/os-quota-sets/${admin.projectId}`, { token: demo.token })).status).toBe(403);
    expect((await call(null, 'PUT', q, { token: demo.token, body: { quota_set: { instances: 5 } } })).status).toBe(403);
    expect((await call(null, 'PUT', q, { body: { quota_set: { instances: used - 1 } } })).status).toBe(400);
    r = await call('v2_57.quotas.update_quota_set', 'PUT', q, { v: '2.57', body: { quota_set: { instances: used } } });
    expect(r.body.quota_set.instances).toBe(used);
    // Over quota: Nova's 403 with its message, and nothing created.
    r = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { name: 'over', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    expect(r.status).toBe(403);
    expect(r.body.forbidden.message).toBe(`Quota exceeded for instances: Requested 1, but already used ${used} of ${used} instances`);
    r = await call('v2_57.limits.get_limit', 'GET', '/compute/v2.1/limits', { v: '2.57', token: demo.token });
    expect(r.body.limits.absolute).toMatchObject({ maxTotalInstances: used, totalInstancesUsed: used });
    await call('v2_1.limits.get_limit', 'GET', '/compute/v2.1/limits', { token: demo.token });
    await call('v2_36.limits.get_limit', 'GET', '/compute/v2.1/limits', { v: '2.36', token: demo.token });
    await call('v2_39.limits.get_limit', 'GET', '/compute/v2.1/limits', { v: '2.39', token: demo.token });
    r = await call('v2_1.quotas.delete_quota', 'DELETE', q);
    expect(r.status).toBe(202);
    expect((await call(null, 'GET', q, { token: demo.token })).body.quota_set.instances).toBe(10);
  });

  it('compute services and hypervisors from the hosts; a disabled host gets no new servers', async () => {
    let r = await call('v2_1.services.list_services', 'GET', '/compute/v2.1/os-services');
    expect(r.body.services.map((s: { host: string }) => s.host)).toEqual(['compute-1', 'compute-2', 'compute-3']);
    expect(r.body.services.every((s: { state: string; status: string }) => s.state === 'up' && s.status === 'enabled')).toBe(true);
    await call('v2_11.services.list_services', 'GET', '/compute/v2.1/os-services', { v: '2.11' });
    r = await call('v2_53.services.list_services', 'GET', '/compute/v2.1/os-services', { v: '2.53' });
    const svc2 = r.body.services.find((s: { host: string }) => s.host === 'compute-2');
    expect((await call(null, 'GET', '/compute/v2.1/os-services', { token: demo.token })).status).toBe(403);
    // 2.1: by action; 2.53: by id.
    r = await call('v2_1.services.disable_log_reason', 'PUT', '/compute/v2.1/os-services/disable-log-reason', { body: { host: 'compute-1', binary: 'nova-compute', disabled_reason: 'maintenance' } });
    expect(r.body.service).toEqual({ host: 'compute-1', binary: 'nova-compute', status: 'disabled', disabled_reason: 'maintenance' });
    r = await call('v2_53.services.update_service', 'PUT', `/compute/v2.1/os-services/${svc2.id}`, { v: '2.53', body: { status: 'disabled' } });
    expect(r.body.service).toMatchObject({ host: 'compute-2', status: 'disabled' });
    expect((await call(null, 'PUT', `/compute/v2.1/os-services/${svc2.id}`, { v: '2.53', body: {} })).status).toBe(400);
    for (let i = 0; i < 3; i++) {
      r = await call(null, 'POST', '/compute/v2.1/servers', { body: { server: { name: `placed-${i}`, imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
      r = await call(null, 'GET', `/compute/v2.1/servers/${r.body.server.id}`);
      expect(r.body.server['OS-EXT-SRV-ATTR:host']).toBe('compute-3');
    }
    r = await call('v2_1.services.enable_disable_service', 'PUT', '/compute/v2.1/os-services/disable', { body: { host: 'compute-3', binary: 'nova-compute' } });
    // Every host disabled: the server goes to ERROR with Nova's fault.
    r = await call(null, 'POST', '/compute/v2.1/servers', { body: { server: { name: 'nowhere', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    expect(r.status).toBe(202);
    r = await call('v2_1.servers.get_server', 'GET', `/compute/v2.1/servers/${r.body.server.id}`);
    expect(r.body.server.status).toBe('ERROR');
    expect(r.body.server.fault.message).toBe('No valid host was found. There are not enough hosts available.');
    for (const h of ['compute-1', 'compute-2', 'compute-3']) await call('v2_1.services.enable_disable_service', 'PUT', '/compute/v2.1/os-services/enable', { body: { host: h, binary: 'nova-compute' } });
    r = await call('v2_11.services.update_forced_down', 'PUT', '/compute/v2.1/os-services/force-down', { v: '2.11', body: { host: 'compute-1', binary: 'nova-compute', forced_down: true } });
    r = await call('v2_11.services.list_services', 'GET', '/compute/v2.1/os-services?host=compute-1', { v: '2.11' });
    expect(r.body.services[0]).toMatchObject({ state: 'down', forced_down: true });
    await call(null, 'PUT', '/compute/v2.1/os-services/force-down', { v: '2.11', body: { host: 'compute-1', binary: 'nova-compute', forced_down: false } });

    r = await call('v2_1.hypervisors.list_search_hypervisors', 'GET', '/compute/v2.1/os-hypervisors');
    expect(r.body.hypervisors.map((h: { hypervisor_hostname: string }) => h.hypervisor_hostname)).toEqual(['compute-1', 'compute-2', 'compute-3']);
    r = await call('v2_1.hypervisors.list_hypervisors_detail', 'GET', '/compute/v2.1/os-hypervisors/detail');
    const c3 = r.body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'compute-3');
    expect(c3.running_vms).toBeGreaterThanOrEqual(3);
    await call('v2_28.hypervisors.list_hypervisors_detail', 'GET', '/compute/v2.1/os-hypervisors/detail', { v: '2.28' });
    await call('v2_33.hypervisors.list_hypervisors_detail', 'GET', '/compute/v2.1/os-hypervisors/detail?limit=2', { v: '2.33' });
    r = await call('v2_53.hypervisors.list_hypervisors_detail', 'GET', '/compute/v2.1/os-hypervisors/detail?with_servers=true', { v: '2.53' });
    const h3 = r.body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'compute-3');
    expect(h3.servers.length).toBe(c3.running_vms);
    await call('v2_53.hypervisors.get_hypervisor', 'GET', `/compute/v2.1/os-hypervisors/${h3.id}`, { v: '2.53' });
    await call('v2_1.hypervisors.get_hypervisor', 'GET', `/compute/v2.1/os-hypervisors/${c3.id}`);
    await call('v2_1.hypervisors.get_hypervisor_statistics', 'GET', '/compute/v2.1/os-hypervisors/statistics');
    await call('v2_1.hypervisors.get_hypervisor_uptime', 'GET', `/compute/v2.1/os-hypervisors/${c3.id}/uptime`);
    await call('v2_1.hypervisors.list_search_hypervisors', 'GET', '/compute/v2.1/os-hypervisors/compute/search');
    expect((await call(null, 'GET', '/compute/v2.1/os-hypervisors/statistics', { v: '2.88' })).status).toBe(404);
    expect((await call(null, 'GET', '/compute/v2.1/os-hypervisors/not-a-uuid', { v: '2.53' })).status).toBe(400);
    expect((await call(null, 'GET', '/compute/v2.1/os-hypervisors', { token: demo.token })).status).toBe(403);

    r = await call('v2_1.availability_zone.list_availability_zone_list', 'GET', '/compute/v2.1/os-availability-zone', { token: demo.token });
    expect(r.body.availabilityZoneInfo).toEqual([{ zoneName: 'nova', zoneState: { available: true }, hosts: null }]);
    r = await call('v2_1.availability_zone.list_availability_zone_list_detail', 'GET', '/compute/v2.1/os-availability-zone/detail');
    expect(Object.keys(r.body.availabilityZoneInfo[0].hosts)).toEqual(['compute-1', 'compute-2', 'compute-3']);
    expect((await call(null, 'GET', '/compute/v2.1/os-availability-zone/detail', { token: demo.token })).status).toBe(403);
  });

  it('the volume proxy answers 2.1–2.35 as Nova does, and is gone from 2.36', async () => {
    let r = await call('v2_1.volumes.create_get_volume', 'POST', '/compute/v2.1/os-volumes', { token: demo.token, body: { volume: { size: 1, display_name: 'proxied', metadata: { a: 'b' } } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.volume.id as string;
    expect(r.body.volume).toMatchObject({ displayName: 'proxied', size: 1, attachments: [{}], metadata: { a: 'b' } });
    await call('v2_1.volumes.create_get_volume', 'GET', `/compute/v2.1/os-volumes/${id}`, { token: demo.token });
    r = await call('v2_1.volumes.list_volumes', 'GET', '/compute/v2.1/os-volumes/detail', { token: demo.token, v: '2.35' });
    expect(r.body.volumes.map((v: { id: string }) => v.id)).toContain(id);
    await call('v2_1.volumes.list_volumes', 'GET', '/compute/v2.1/os-volumes?limit=1', { token: demo.token });
    expect((await call(null, 'GET', '/compute/v2.1/os-volumes', { token: demo.token, v: '2.36' })).status).toBe(404);
    expect((await call(null, 'GET', `/compute/v2.1/os-volumes/${crypto.randomUUID()}`, { token: demo.token })).status).toBe(404);
    expect((await call(null, 'POST', '/compute/v2.1/os-volumes', { token: demo.token, body: { volume: { size: 0 } } })).status).toBe(400);
    r = await call('v2_1.volumes.delete_volume', 'DELETE', `/compute/v2.1/os-volumes/${id}`, { token: demo.token });
    expect(r.status).toBe(202);
    expect((await call(null, 'GET', '/compute/v2.1/os-snapshots', { token: demo.token, v: '2.36' })).status).toBe(404);
  });

  it('instance actions: each attach and detach is an action named by its request id, with its event', async () => {
    let r = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { name: 'acted-on', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    const sid = r.body.server.id as string;
    r = await t.api('POST', '/volume/v3/volumes', { token: demo.token, body: { volume: { size: 1, name: 'acted' } } });
    const vid = r.body.volume.id as string;
    await t.cloud.settle();
    const attach = await call(null, 'POST', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, body: { volumeAttachment: { volumeId: vid } } });
    expect(attach.status, JSON.stringify(attach.body)).toBe(200);
    await t.cloud.settle();
    const detach = await call(null, 'DELETE', `/compute/v2.1/servers/${sid}/os-volume_attachments/${vid}`, { token: admin.token });
    expect(detach.status).toBe(202);
    await t.cloud.settle();
    const attachReq = attach.headers.get('x-openstack-request-id') as string;
    const detachReq = detach.headers.get('x-openstack-request-id') as string;
    expect(attachReq).toMatch(/^req-/);

    r = await call('v2_1.servers.list_instance_actions', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions`, { token: demo.token });
    expect(r.status).toBe(200);
    // Newest first; the detach was an admin's, and says so.
    expect(r.body.instanceActions.map((a: { action: string; request_id: string; message: null }) => [a.action, a.request_id, a.message])).toEqual([
      ['detach_volume', detachReq, null],
      ['attach_volume', attachReq, null],
    ]);
    const [detachAction, attachAction] = r.body.instanceActions;
    expect(detachAction.user_id).not.toBe(attachAction.user_id);
    expect(attachAction.project_id).toBe(demo.projectId);

    // Before 2.51 a member sees no events; an admin does, with the (empty) failure detail.
    r = await call('v2_1.servers.show_instance_action', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${attachReq}`, { token: demo.token });
    expect(r.body.instanceAction.events).toBeUndefined();
    r = await call('v2_1.servers.show_instance_action', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${attachReq}`, { token: admin.token });
    expect(r.body.instanceAction.events).toMatchObject([{ event: 'compute_attach_volume', result: 'Success', traceback: null }]);
    r = await call('v2_51.servers.show_instance_action', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${detachReq}`, { token: demo.token, v: '2.51' });
    expect(r.body.instanceAction.events).toEqual([expect.objectContaining({ event: 'compute_detach_volume', result: 'Success' })]);
    expect(r.body.instanceAction.events[0]).not.toHaveProperty('traceback');
    r = await call('v2_58.servers.show_instance_action', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${detachReq}`, { token: demo.token, v: '2.58' });
    expect(r.body.instanceAction.updated_at >= r.body.instanceAction.start_time).toBe(true);
    r = await call('v2_62.servers.show_instance_action', 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${detachReq}`, { token: admin.token, v: '2.62' });
    expect(r.body.instanceAction.events[0]).toMatchObject({ host: expect.stringMatching(/^compute-/), hostId: expect.any(String) });

    // 2.58 paging: one at a time, the marker is a request id.
    r = await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions?limit=1`, { token: demo.token, v: '2.58' });
    expect(r.body.instanceActions.map((a: { request_id: string }) => a.request_id)).toEqual([detachReq]);
    expect(r.body.links[0].href).toContain(`marker=${detachReq}`);
    r = await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions?limit=1&marker=${detachReq}`, { token: demo.token, v: '2.58' });
    expect(r.body.instanceActions.map((a: { request_id: string }) => a.request_id)).toEqual([attachReq]);
    expect((await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions?marker=req-nope`, { token: demo.token, v: '2.58' })).body.badRequest.message).toBe('Marker req-nope could not be found.');
    expect((await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions?changes-since=2999-01-01T00:00:00Z`, { token: demo.token, v: '2.58' })).body.instanceActions).toEqual([]);

    // Refusals: an unknown request, another project's server.
    r = await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/req-nope`, { token: demo.token });
    expect(r.status).toBe(404);
    expect(r.body.itemNotFound.message).toBe(`Action for request_id req-nope on instance ${sid} not found`);
    const own = await call(null, 'POST', '/compute/v2.1/servers', { token: admin.token, body: { server: { name: 'admins', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    await t.cloud.settle();
    expect((await call(null, 'GET', `/compute/v2.1/servers/${own.body.server.id}/os-instance-actions`, { token: demo.token })).status).toBe(404);
  });

  it('delete_on_termination (2.79): shown on the attachment, honoured at server delete', async () => {
    const s = await call(null, 'POST', '/compute/v2.1/servers', { token: demo.token, body: { server: { name: 'doomed', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    const sid = s.body.server.id as string;
    const mk = async (name: string) => (await t.api('POST', '/volume/v3/volumes', { token: demo.token, body: { volume: { size: 1, name } } })).body.volume.id as string;
    const doomed = await mk('goes-with-server');
    const kept = await mk('stays');
    await t.cloud.settle();
    // Before 2.79 the field is not in Nova's schema.
    let r = await call(null, 'POST', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, v: '2.78', body: { volumeAttachment: { volumeId: doomed, delete_on_termination: true } } });
    expect(r.status).toBe(400);
    r = await call('v2_79.servers.attach_volume', 'POST', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, v: '2.79', body: { volumeAttachment: { volumeId: doomed, delete_on_termination: true } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.volumeAttachment.delete_on_termination).toBe(true);
    await t.cloud.settle();
    r = await call(null, 'POST', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, v: '2.79', body: { volumeAttachment: { volumeId: kept } } });
    expect(r.status).toBe(200);
    await t.cloud.settle();
    r = await call('v2_79.servers.list_volume_attachments', 'GET', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, v: '2.79' });
    expect(Object.fromEntries(r.body.volumeAttachments.map((a: { volumeId: string; delete_on_termination: boolean }) => [a.volumeId, a.delete_on_termination]))).toEqual({ [doomed]: true, [kept]: false });
    expect((await call(null, 'DELETE', `/compute/v2.1/servers/${sid}`, { token: demo.token })).status).toBe(204);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${doomed}`, { token: demo.token })).status).toBe(404);
    const left = await t.api('GET', `/volume/v3/volumes/${kept}`, { token: demo.token });
    expect(left.body.volume).toMatchObject({ status: 'available', attachments: [] });
  });

  it('boot from volume: the volumes are attached by the create request before the server is ACTIVE; delete_on_termination at delete', async () => {
    const mk = async (name: string) => (await t.api('POST', '/volume/v3/volumes', { token: demo.token, body: { volume: { size: 1, name } } })).body.volume.id as string;
    const root = await mk('bfv-root');
    const data = await mk('bfv-data');
    await t.cloud.settle();
    const create = await call(null, 'POST', '/compute/v2.1/servers', {
      token: demo.token,
      v: '2.79',
      body: {
        server: {
          name: 'bfv',
          flavorRef: '1',
          networks: 'none',
          block_device_mapping_v2: [
            { source_type: 'volume', destination_type: 'volume', uuid: root, boot_index: 0, delete_on_termination: true },
            { source_type: 'volume', destination_type: 'volume', uuid: data, boot_index: -1 },
          ],
        },
      },
    });
    expect(create.status, JSON.stringify(create.body)).toBe(202);
    const sid = create.body.server.id as string;
    await t.cloud.settle();
    const shown = await call(null, 'GET', `/compute/v2.1/servers/${sid}`, { token: demo.token, v: '2.79' });
    expect(shown.body.server).toMatchObject({ status: 'ACTIVE', image: '' });
    expect(shown.body.server['os-extended-volumes:volumes_attached']).toEqual([
      { id: root, delete_on_termination: true },
      { id: data, delete_on_termination: false },
    ]);
    const atts = await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-volume_attachments`, { token: demo.token, v: '2.79' });
    expect(Object.fromEntries(atts.body.volumeAttachments.map((a: { volumeId: string; device: string }) => [a.volumeId, a.device]))).toEqual({ [root]: '/dev/vda', [data]: '/dev/vdb' });
    for (const id of [root, data]) {
      const v = (await t.api('GET', `/volume/v3/volumes/${id}`, { token: demo.token })).body.volume;
      expect(v.status).toBe('in-use');
      expect(v.attachments.map((a: { server_id: string; device: string }) => [a.server_id, a.device])).toEqual([[sid, id === root ? '/dev/vda' : '/dev/vdb']]);
    }
    // Each volume went through the attach flow under the create request's id (its journal and trace).
    const createReq = create.headers.get('x-openstack-request-id') as string;
    const actions = await call(null, 'GET', `/compute/v2.1/servers/${sid}/os-instance-actions/${createReq}`, { token: admin.token });
    expect(actions.body.instanceAction.events.map((e: { event: string; result: string }) => [e.event, e.result])).toEqual([
      ['compute_attach_volume', 'Success'],
      ['compute_attach_volume', 'Success'],
    ]);
    // As Nova's spawn: each volume went into the domain's definition before its first start
    // (plugged persistent only), and the started guest has both from the start.
    for (const id of [root, data]) {
      const op = (await t.cloud.computeRepository.listOperations(sid, id)).find((o) => o.kind === 'attach')!;
      const plug = (await t.cloud.computeRepository.loadSpans(op.id)).find((x) => x.name === 'hotplug');
      expect(plug?.attrs['live']).toBe(false);
    }
    const booted = t.cloud.hosts.flatMap((h) => (h.hypervisor as SimHypervisor).domains()).find((d) => d.uuid === sid)!;
    expect(booted.state).toBe('running');
    expect(booted.liveDisks.map((d) => [d.target, d.serial])).toEqual([
      ['vda', root],
      ['vdb', data],
    ]);
    // The domain has both disks.
    const host = (await call(null, 'GET', `/compute/v2.1/servers/${sid}`, { token: admin.token })).body.server['OS-EXT-SRV-ATTR:host'] as string;
    const hv = t.cloud.hosts.find((h) => h.name === host)?.hypervisor;
    const domain = (await t.cloud.computeRepository.getServer(sid))?.domain_name as string;
    expect((await hv!.listDisks(domain)).map((d) => d.target).sort()).toEqual(['vda', 'vdb']);

    // Deleting the server deletes the root volume (delete_on_termination) and frees the other.
    expect((await call(null, 'DELETE', `/compute/v2.1/servers/${sid}`, { token: demo.token })).status).toBe(204);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${root}`, { token: demo.token })).status).toBe(404);
    expect((await t.api('GET', `/volume/v3/volumes/${data}`, { token: demo.token })).body.volume).toMatchObject({ status: 'available', attachments: [] });

    // A source this cloud cannot make a volume from: the build fails with Nova's fault.
    const blank = await call(null, 'POST', '/compute/v2.1/servers', {
      token: demo.token,
      body: { server: { name: 'blank-root', flavorRef: '1', block_device_mapping_v2: [{ source_type: 'blank', destination_type: 'volume', volume_size: 1, boot_index: 0 }] } },
    });
    expect(blank.status).toBe(202);
    await t.cloud.settle();
    const failed = (await call(null, 'GET', `/compute/v2.1/servers/${blank.body.server.id}`, { token: demo.token })).body.server;
    expect(failed.status).toBe('ERROR');
    expect(failed.fault.message).toContain('cannot create a volume from source_type blank');
  });

  it('every answer above matches tempest\'s schema for its microversion', async () => {
    if (tempestMissing()) {
      expect(peerRequired(), 'python3-tempest must be installed under CI').toBe(false);
      return;
    }
    const problems = await checkSchemas(checks);
    const bad = checks.map((c, i) => [c.what, problems[i]] as const).filter(([, p]) => p !== null);
    expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
    expect(checks.length).toBeGreaterThan(50);
  }, 120_000);
});
