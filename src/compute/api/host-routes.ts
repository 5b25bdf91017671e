/**
 * The compute hosts as operators see them, with Nova's bodies and microversion gates:
 * `os-services` (list; enable, disable and force down — by action before 2.53, by service id
 * from 2.53; delete), `os-hypervisors` (list, detail, show, statistics and uptime before 2.88,
 * search and servers before 2.53) and `os-availability-zone` (and `detail` for admins).
 * A host's state is its compute service's: up from its heartbeat, enabled unless an operator
 * disabled it — and a disabled host gets no new servers.
 */
import { loadavg, uptime } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import { isUuid, validate, type Schema } from '../../http/validate.ts';
import type { ComputeService, ServerViewContext } from '../compute-service.ts';
import type { ComputeHostState } from '../host-catalog.ts';
import type { ServerRow } from '../repository.ts';
import type { ComputeApi } from './context.ts';
import { methodNotAllowed } from './flavor-routes.ts';
import { badRequest, boolean, checkQuery, fqdn, page, param, truthy, type Query } from './nova-types.ts';

const BINARY = 'nova-compute';
const iso = (t: string | null): string | null => (t ? t.replace(/Z$/, '').replace(/(\.\d{3})$/, '$1000') : null);

const reason: Schema = { type: 'string', minLength: 1, maxLength: 255 };
const updateV21 = (v: ApiVersion): Schema => ({
  type: 'object',
  required: ['host', 'binary'],
  additionalProperties: false,
  properties: { host: fqdn, binary: { type: 'string', minLength: 1, maxLength: 255 }, disabled_reason: reason, ...(v.atLeast('2.11') ? { forced_down: boolean } : {}) },
});
const updateV253: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['enabled', 'disabled'] }, disabled_reason: reason, forced_down: boolean },
};

function serviceView(h: ComputeHostState, v: ApiVersion) {
  return {
    binary: BINARY,
    host: h.host,
    id: v.atLeast('2.53') ? h.uuid : h.seq,
    zone: 'nova',
    status: h.disabled ? 'disabled' : 'enabled',
    state: h.up ? 'up' : 'down',
    updated_at: iso(h.lastSeen),
    disabled_reason: h.disabled_reason,
    ...(v.atLeast('2.11') ? { forced_down: h.forced_down === 1 } : {}),
  };
}

interface Usage {
  readonly servers: readonly ServerRow[];
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
}

function hypervisorView(h: ComputeHostState, u: Usage, v: ApiVersion, detail: boolean, withServers: boolean) {
  const view: Record<string, unknown> = {
    id: v.atLeast('2.53') ? h.uuid : h.seq,
    hypervisor_hostname: h.host,
    state: h.up ? 'up' : 'down',
    status: h.disabled ? 'disabled' : 'enabled',
  };
  if (detail) {
    view['hypervisor_type'] = h.hypervisor_type;
    view['hypervisor_version'] = h.hypervisor_version;
    view['host_ip'] = h.host_ip;
    view['service'] = { id: v.atLeast('2.53') ? h.uuid : h.seq, host: h.host, disabled_reason: h.disabled_reason };
    if (!v.atLeast('2.88')) {
      Object.assign(view, {
        vcpus: h.vcpus,
        memory_mb: h.memory_mb,
        local_gb: h.local_gb,
        vcpus_used: u.vcpus,
        memory_mb_used: u.ram,
        local_gb_used: u.disk,
        free_ram_mb: h.memory_mb - u.ram,
        free_disk_gb: h.local_gb - u.disk,
        current_workload: u.servers.filter((s) => s.task_state !== null).length,
        running_vms: u.servers.length,
        disk_available_least: h.local_gb - u.disk,
        cpu_info: v.atLeast('2.28') ? {} : '{}',
      });
    } else {
      view['uptime'] = null;
    }
  }
  if (u.servers.length > 0 && withServers) view['servers'] = u.servers.map((s) => ({ name: s.name, uuid: s.id }));
  else if (withServers && v.atLeast('2.75')) view['servers'] = [];
  return view;
}

/** `uptime`'s line for this machine (the compute host in the all-in-one). */
function uptimeLine(): string {
  const up = uptime();
  const days = Math.floor(up / 86400);
  const hh = Math.floor((up % 86400) / 3600);
  const mm = String(Math.floor((up % 3600) / 60)).padStart(2, '0');
  const now = new Date().toISOString().slice(11, 19);
  const [a, b, c] = loadavg().map((x) => x.toFixed(2));
  return ` ${now} up ${days} days, ${hh}:${mm},  load average: ${a}, ${b}, ${c}`;
}

export function registerHostRoutes(app: FastifyInstance, api: ComputeApi, compute: ComputeService): void {
  const usage = async (host: string): Promise<Usage> => {
    const servers = await compute.serversOnHost(host);
    let vcpus = 0;
    let ram = 0;
    let disk = 0;
    for (const s of servers) {
      const ctx: ServerViewContext = await compute.viewContext(s);
      vcpus += ctx.flavor?.vcpus ?? 0;
      ram += ctx.flavor?.ram ?? 0;
      // A volume-backed server's root disk is not on the host.
      if (!s.root_device_name) disk += ctx.flavor?.disk ?? 0;
    }
    return { servers, vcpus, ram, disk };
  };

  // --- os-services ------------------------------------------------------------------------------
  app.get('/v2.1/os-services', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-services:list');
    const q = req.query as Query;
    checkQuery(q, ['host', 'binary'], v.atLeast('2.75'));
    const host = param(q, 'host');
    const binary = param(q, 'binary');
    const all = (await compute.hosts.list()).filter((h) => (!host || h.host === host) && (!binary || binary === BINARY));
    return { services: all.map((h) => serviceView(h, v)) };
  });

  app.put<{ Params: { id: string } }>('/v2.1/os-services/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-services:update');
    if (v.atLeast('2.53')) {
      if (!isUuid(req.params.id)) throw badRequest(`Invalid uuid ${req.params.id}`);
      validate(updateV253, req.body);
      const body = req.body as { status?: string; disabled_reason?: string; forced_down?: unknown };
      const h = await compute.hosts.get({ uuid: req.params.id });
      if (!h) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Service', id: req.params.id }, { message: `Service ${req.params.id} could not be found.` });
      const patch: { disabled?: number; disabled_reason?: string | null; forced_down?: number } = {};
      if (body.status === 'enabled') {
        if (body.disabled_reason) throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
        patch.disabled = 0;
        patch.disabled_reason = null;
      } else if (body.status === 'disabled') {
        patch.disabled = 1;
        patch.disabled_reason = body.disabled_reason ?? null;
      }
      if (body.forced_down !== undefined) patch.forced_down = truthy(body.forced_down) ? 1 : 0;
      const changed = (Object.keys(patch) as Array<keyof typeof patch>).some((k) => patch[k] !== h[k]);
      if (!changed) throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
      await compute.hosts.update(h.host, patch);
      return { service: serviceView((await compute.hosts.get({ host: h.host })) as ComputeHostState, v) };
    }
    // Before 2.53 the path names the action and the body the service.
    const actions = ['enable', 'disable', 'disable-log-reason', ...(v.atLeast('2.11') ? ['force-down'] : [])];
    const action = req.params.id;
    if (!actions.includes(action)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Action', id: action }, { message: 'Unknown action' });
    validate(updateV21(v), req.body);
    const body = req.body as { host: string; binary: string; disabled_reason?: string; forced_down?: unknown };
    if (action === 'disable-log-reason' && body.disabled_reason === undefined) throw badRequest('Missing disabled reason field');
    if (action === 'force-down' && body.forced_down === undefined) throw badRequest('Missing forced_down field');
    if (body.binary !== BINARY) throw badRequest(`Updating a ${body.binary} service is not supported. Only nova-compute services can be updated.`);
    const h = await compute.hosts.get({ host: body.host });
    if (!h) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Service', id: body.host }, { message: `Compute host ${body.host} with binary ${body.binary} could not be found.` });
    }
    if (action === 'force-down') {
      const down = truthy(body.forced_down);
      await compute.hosts.update(h.host, { forced_down: down ? 1 : 0 });
      return { service: { host: h.host, binary: BINARY, forced_down: down } };
    }
    const disable = action !== 'enable';
    const why = action === 'disable-log-reason' ? (body.disabled_reason ?? null) : null;
    await compute.hosts.update(h.host, { disabled: disable ? 1 : 0, disabled_reason: why });
    return { service: { host: h.host, binary: BINARY, status: disable ? 'disabled' : 'enabled', ...(why ? { disabled_reason: why } : {}) } };
  });

  app.delete<{ Params: { id: string } }>('/v2.1/os-services/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-services:delete');
    const id = req.params.id;
    if (v.atLeast('2.53') ? !isUuid(id) : !/^\d+$/.test(id)) throw badRequest(v.atLeast('2.53') ? `Invalid uuid ${id}` : `Invalid id: ${id} (expecting "id" to be an integer)`);
    const h = await compute.hosts.get(v.atLeast('2.53') ? { uuid: id } : { seq: Number(id) });
    if (!h) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Service', id }, { message: `Service ${id} not found.` });
    if ((await compute.serversOnHost(h.host)).length > 0) {
      const message = 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.';
      throw new HitchError('HITCH_CONFLICT', { reason: message }, { message });
    }
    await compute.hosts.delete(h.host);
    return reply.code(204).send();
  });

  // --- os-hypervisors ---------------------------------------------------------------------------
  const hypervisorNotFound = (id: string) => new HitchError('HITCH_NOT_FOUND', { kind: 'Hypervisor', id }, { message: `Hypervisor with ID '${id}' could not be found.` });
  const byId = async (v: ApiVersion, id: string): Promise<ComputeHostState> => {
    if (v.atLeast('2.53')) {
      if (!isUuid(id)) throw badRequest(`Invalid uuid ${id}`);
    } else if (!/^\d+$/.test(id)) throw hypervisorNotFound(id);
    const h = await compute.hosts.get(v.atLeast('2.53') ? { uuid: id } : { seq: Number(id) });
    if (!h) throw hypervisorNotFound(id);
    return h;
  };

  const listHypervisors = async (req: FastifyRequest, v: ApiVersion, detail: boolean) => {
    await api.admin(req, `os_compute_api:os-hypervisors:${detail ? 'list-detail' : 'list'}`);
    const q = req.query as Query;
    checkQuery(q, v.atLeast('2.53') ? ['limit', 'marker', 'hypervisor_hostname_pattern', 'with_servers'] : v.atLeast('2.33') ? ['limit', 'marker'] : [], v.atLeast('2.33'));
    let hosts = await compute.hosts.list();
    let withServers = false;
    let paged = v.atLeast('2.33');
    if (v.atLeast('2.53')) {
      const raw = param(q, 'with_servers');
      if (raw !== undefined) {
        if (!['1', '0', 't', 'f', 'true', 'false', 'on', 'off', 'y', 'n', 'yes', 'no'].includes(raw.toLowerCase())) {
          throw badRequest(`Invalid input for query parameters with_servers. Value: ${raw}. '${raw}' is not a valid boolean`);
        }
        withServers = truthy(raw);
      }
      const pattern = param(q, 'hypervisor_hostname_pattern');
      if (pattern !== undefined) {
        if (param(q, 'limit') !== undefined || param(q, 'marker') !== undefined) {
          throw badRequest('Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.');
        }
        hosts = hosts.filter((h) => h.host.includes(pattern));
        if (hosts.length === 0) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Hypervisor', id: pattern }, { message: `No hypervisor matching '${pattern}' could be found.` });
        paged = false;
      }
    }
    const idOf = (h: ComputeHostState) => (v.atLeast('2.53') ? h.uuid : String(h.seq));
    const { items, next } = paged ? page(hosts, idOf, q, `${api.base(req)}/v2.1/os-hypervisors${detail ? '/detail' : ''}`) : { items: hosts, next: null };
    const views = await Promise.all(items.map(async (h) => hypervisorView(h, await usage(h.host), v, detail, withServers)));
    return { hypervisors: views, ...(next ? { hypervisors_links: [{ rel: 'next', href: next }] } : {}) };
  };

  app.get('/v2.1/os-hypervisors', async (req, reply) => listHypervisors(req, api.mv(req, reply), false));
  app.get('/v2.1/os-hypervisors/detail', async (req, reply) => listHypervisors(req, api.mv(req, reply), true));

  app.get('/v2.1/os-hypervisors/statistics', async (req, reply) => {
    const v = api.mv(req, reply);
    if (v.atLeast('2.88')) throw methodNotAllowed();
    await api.admin(req, 'os_compute_api:os-hypervisors:statistics');
    const hosts = await compute.hosts.list();
    const sums = { count: hosts.length, vcpus: 0, memory_mb: 0, local_gb: 0, vcpus_used: 0, memory_mb_used: 0, local_gb_used: 0, free_ram_mb: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0 };
    for (const h of hosts) {
      const u = await usage(h.host);
      sums.vcpus += h.vcpus;
      sums.memory_mb += h.memory_mb;
      sums.local_gb += h.local_gb;
      sums.vcpus_used += u.vcpus;
      sums.memory_mb_used += u.ram;
      sums.local_gb_used += u.disk;
      sums.free_ram_mb += h.memory_mb - u.ram;
      sums.free_disk_gb += h.local_gb - u.disk;
      sums.disk_available_least += h.local_gb - u.disk;
      sums.current_workload += u.servers.filter((s) => s.task_state !== null).length;
      sums.running_vms += u.servers.length;
    }
    return { hypervisor_statistics: sums };
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-hypervisors:show');
    const q = req.query as Query;
    checkQuery(q, v.atLeast('2.53') ? ['with_servers'] : [], v.atLeast('2.53'));
    const withServers = v.atLeast('2.53') && param(q, 'with_servers') !== undefined && truthy(param(q, 'with_servers'));
    const h = await byId(v, req.params.id);
    return { hypervisor: hypervisorView(h, await usage(h.host), v, true, withServers) };
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id/uptime', async (req, reply) => {
    const v = api.mv(req, reply);
    if (v.atLeast('2.88')) throw methodNotAllowed();
    await api.admin(req, 'os_compute_api:os-hypervisors:uptime');
    const h = await byId(v, req.params.id);
    return { hypervisor: { ...hypervisorView(h, await usage(h.host), v, false, false), uptime: uptimeLine() } };
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id/search', async (req, reply) => {
    const v = api.mv(req, reply);
    if (v.atLeast('2.53')) throw methodNotAllowed();
    await api.admin(req, 'os_compute_api:os-hypervisors:search');
    const hosts = (await compute.hosts.list()).filter((h) => h.host.includes(req.params.id));
    if (hosts.length === 0) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Hypervisor', id: req.params.id }, { message: `No hypervisor matching '${req.params.id}' could be found.` });
    return { hypervisors: await Promise.all(hosts.map(async (h) => hypervisorView(h, await usage(h.host), v, false, false))) };
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id/servers', async (req, reply) => {
    const v = api.mv(req, reply);
    if (v.atLeast('2.53')) throw methodNotAllowed();
    await api.admin(req, 'os_compute_api:os-hypervisors:servers');
    const hosts = (await compute.hosts.list()).filter((h) => h.host.includes(req.params.id));
    if (hosts.length === 0) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Hypervisor', id: req.params.id }, { message: `No hypervisor matching '${req.params.id}' could be found.` });
    return { hypervisors: await Promise.all(hosts.map(async (h) => hypervisorView(h, await usage(h.host), v, false, true))) };
  });

  // --- os-availability-zone ---------------------------------------------------------------------
  app.get('/v2.1/os-availability-zone', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.auth(req);
    checkQuery(req.query as Query, [], v.atLeast('2.102'));
    const hosts = await compute.hosts.list();
    // A zone is available while one of its compute services is enabled.
    const available = hosts.some((h) => !h.disabled);
    return { availabilityZoneInfo: hosts.length === 0 ? [] : [{ zoneName: 'nova', zoneState: { available }, hosts: null }] };
  });

  app.get('/v2.1/os-availability-zone/detail', async (req, reply) => {
    api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-availability-zone:detail');
    const hosts = await compute.hosts.list();
    const enabled = hosts.filter((h) => !h.disabled);
    const zone: Record<string, Record<string, { available: boolean; active: boolean; updated_at: string | null }>> = {};
    for (const h of enabled) zone[h.host] = { [BINARY]: { available: h.up, active: true, updated_at: iso(h.lastSeen) } };
    if (hosts.length === 0) return { availabilityZoneInfo: [] };
    return {
      availabilityZoneInfo: [enabled.length > 0 ? { zoneName: 'nova', zoneState: { available: true }, hosts: zone } : { zoneName: 'nova', zoneState: { available: false }, hosts: null }],
    };
  });
}
