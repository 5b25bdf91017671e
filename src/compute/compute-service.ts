/**
 * The compute API's logic, apart from HTTP: servers (placed on a live compute host), volume
 * attachments and their traces, with project isolation (another project's server or volume is
 * a 404, as Nova answers) — and every operation handed to the owning host's manager through
 * the dispatch interface.
 */
import { HitchError, ref } from '../errors.ts';
import type { AuthContext } from '../identity/identity-service.ts';
import { realClock } from '../host/real-clock.ts';
import { backendOf, recentNormal, type RecentNormal } from '../trace/normal.ts';
import { noopSpan, type SpanRecord } from '../trace/span.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type { ComputeDispatch } from './dispatch.ts';
import { findImage } from './images.ts';
import { flavorNotFound, serverFlavorOf, type FlavorStore, type ServerFlavor } from './flavor-store.ts';
import type { HostCatalog } from './host-catalog.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import type { QuotaStore } from './quota-store.ts';
import type { BdmRow, ComputeRepository, OperationQuery, OperationRow, ServerFilter, ServerRow, ServerSort } from './repository.ts';
import { bootDevices, invalidBdm, type BootDevice, type CreateServerInput } from './server-request.ts';

export type { CreateServerInput } from './server-request.ts';

/** What server create answers: the servers made (one unless `max_count` asked for more). */
export interface CreatedServers {
  readonly servers: readonly ServerRow[];
  readonly reservationId: string;
}

export interface ComputeServiceOptions {
  readonly repo: ComputeRepository;
  readonly dispatch: ComputeDispatch;
  readonly storage: VolumeAttachProtocol;
  /** Domain details per host (virt type, tiny-guest boot), decided by the host's config. */
  readonly domainSpec: (server: ServerRow) => DomainSpec;
  readonly flavors: FlavorStore;
  readonly quotas: QuotaStore;
  readonly hosts: HostCatalog;
}

/** What the server view needs beyond the rows: the flavor it runs with, its host's state. */
export interface ServerViewContext {
  readonly flavor: ServerFlavor | undefined;
  /** Nova's host_status: `UP`, `DOWN`, `MAINTENANCE` (disabled), `UNKNOWN`, or '' without a host. */
  readonly hostStatus: string;
}

/** The availability zone every compute host is in (Nova's `default_availability_zone`). */
export const COMPUTE_AZ = 'nova';

const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

function bad(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

/** One event of `POST /os-server-external-events`, as Nova's API takes it. */
export interface ExternalEvent {
  readonly name: string;
  readonly server_uuid: string;
  readonly status?: string;
  readonly tag?: string;
}

/** Nova's answer for one event: `completed`/200 when accepted, `failed` with 404 or 422 when not. */
export interface ExternalEventResult {
  readonly name: string;
  readonly server_uuid: string;
  readonly status: 'completed' | 'failed';
  readonly code: number;
  readonly tag?: string;
}

export interface OperationView {
  readonly operation: OperationRow;
  readonly spans: readonly SpanRecord[];
}

/** Pre-checks outside any operation are not traced. */
const noSpan = noopSpan(realClock);

const notFound = (kind: string, id: string): HitchError => new HitchError('HITCH_NOT_FOUND', { kind, id });

export class ComputeService {
  readonly #o: ComputeServiceOptions;
  readonly #background = new Set<Promise<void>>();
  #serial = 0;

  constructor(opts: ComputeServiceOptions) {
    this.#o = opts;
  }

  get flavors(): FlavorStore {
    return this.#o.flavors;
  }

  get quotas(): QuotaStore {
    return this.#o.quotas;
  }

  get hosts(): HostCatalog {
    return this.#o.hosts;
  }

  /** The server view's extras: its flavor and its host's state (Nova's `host_status`). */
  async viewContext(s: ServerRow): Promise<ServerViewContext> {
    return (await this.viewContexts([s])).get(s.id) as ServerViewContext;
  }

  /** The view extras of a page of servers: the hosts' states read once, flavors from the servers' own copies. */
  async viewContexts(rows: readonly ServerRow[]): Promise<Map<string, ServerViewContext>> {
    const out = new Map<string, ServerViewContext>();
    if (rows.length === 0) return out;
    const hosts = new Map((await this.#o.hosts.list([...new Set(rows.map((s) => s.host).filter((h) => h !== ''))])).map((h) => [h.host, h]));
    const flavors = new Map<string, ServerFlavor | undefined>();
    for (const s of rows) {
      let flavor: ServerFlavor | undefined;
      if (s.flavor) flavor = JSON.parse(s.flavor) as ServerFlavor;
      else {
        if (!flavors.has(s.flavor_id)) flavors.set(s.flavor_id, await this.flavorOf(s));
        flavor = flavors.get(s.flavor_id);
      }
      const h = hosts.get(s.host);
      const hostStatus = !s.host ? '' : !h ? 'UNKNOWN' : h.forced_down ? 'DOWN' : !h.up ? 'UNKNOWN' : h.disabled ? 'MAINTENANCE' : 'UP';
      out.set(s.id, { flavor, hostStatus });
    }
    return out;
  }

  /** A server the caller may see: its own project's, or any for an admin. */
  async getServer(ctx: AuthContext, id: string): Promise<ServerRow> {
    const s = await this.#o.repo.getServer(id, ctx.isAdmin ? undefined : (ctx.projectId ?? '-'));
    if (!s) throw notFound('Instance', id);
    return s;
  }

  /**
   * A page of the servers the caller may see: its project's, or with `allTenants` any (admins),
   * after the server `markerId` (which the caller must be able to see: `HITCH_INVALID_INPUT`
   * otherwise, as Nova answers an unknown marker).
   */
  async listServers(
    ctx: AuthContext,
    f: Omit<ServerFilter, 'projectId'> & { allTenants: boolean; projectId?: string },
    sort: readonly ServerSort[],
    limit: number | undefined,
    markerId: string | undefined,
  ): Promise<ServerRow[]> {
    const marker = markerId === undefined ? undefined : await this.#o.repo.getServerAny(markerId);
    if (markerId !== undefined && (!marker || (!ctx.isAdmin && marker.project_id !== ctx.projectId))) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'marker' }, { message: `marker [${markerId}] not found` });
    }
    const { allTenants, projectId, ...rest } = f;
    const scope = ctx.isAdmin && allTenants ? (projectId ?? null) : (ctx.projectId ?? '-');
    return this.#o.repo.listServerPage({ ...rest, projectId: scope }, sort, limit, marker);
  }

  /** The servers placed on compute host `host`, any project's (the host's usage, whether it may go). */
  async serversOnHost(host: string): Promise<ServerRow[]> {
    return this.#o.repo.listServers(undefined, host);
  }

  /** The volume mappings of servers the caller has already been given (one statement for all of them). */
  async mappingsOf(servers: readonly ServerRow[]): Promise<Map<string, BdmRow[]>> {
    return servers.length > 0 ? this.#o.repo.listBdmsOfServers(servers.map((s) => s.id)) : new Map();
  }

  /** Nova's create for one server; the first of `createServers`. */
  async createServer(ctx: AuthContext, input: CreateServerInput): Promise<ServerRow> {
    return (await this.createServers(ctx, input)).servers[0] as ServerRow;
  }

  /** The flavor a server runs with: its own copy, or (servers from before the copy) the flavor's row. */
  async flavorOf(server: { flavor: string | null; flavor_id: string }): Promise<ServerFlavor | undefined> {
    if (server.flavor) return JSON.parse(server.flavor) as ServerFlavor;
    const f = await this.#o.flavors.get(server.flavor_id);
    return f && serverFlavorOf(f);
  }

  /**
   * Server create as Nova checks it, in Nova's order: flavor, image, block devices and their
   * volumes, networks, availability zone and host, quota; then placement on an enabled, live
   * host (none: the server goes to ERROR with Nova's fault), and the build in the background.
   */
  async createServers(ctx: AuthContext, input: CreateServerInput, requestId?: string): Promise<CreatedServers> {
    if (!ctx.projectId) throw new HitchError('HITCH_FORBIDDEN', { action: 'os_compute_api:servers:create' });
    const projectId = ctx.projectId;
    const min = input.minCount ?? 1;
    const max = input.maxCount ?? min;
    if (min > max) throw bad('min_count must be <= max_count');
    const flavorId = input.flavorRef.replace(/^.*\/flavors\//, '');
    const flavorRow = await this.#o.flavors.getFor(flavorId, projectId, ctx.isAdmin).catch(() => {
      throw bad(flavorNotFound(flavorId).message);
    });
    const flavor = serverFlavorOf(flavorRow);
    let imageId = '';
    if (input.imageRef !== '') {
      const image = findImage(input.imageRef);
      if (!image) throw bad('Can not find requested image');
      imageId = image.id;
    }
    const hasBdm = (input.blockDevices?.length ?? 0) + (input.legacyBlockDevices?.length ?? 0) > 0;
    if (input.imageRef === '' && !hasBdm) throw bad('Missing imageRef attribute');
    const devices = bootDevices(input);
    if (min > 1 || max > 1) {
      if (devices.some((d) => d.sourceType === 'volume')) throw bad('Unable to launch multiple instances with a single configured volume ID. Please either specify a different volume ID for each instance or add a block device mapping with source_type image, snapshot or blank.');
    }
    for (const d of devices) await this.#checkBootDevice(d, projectId, input.multiattachAllowed ?? false);
    const bootFromVolume = devices.some((d) => d.bootIndex === 0);
    if (flavor.disk === 0 && !bootFromVolume) {
      // Nova's default policy lets only volume-backed servers use a zero-disk flavor, and only admins bypass it.
      if (!ctx.isAdmin) throw new HitchError('HITCH_FORBIDDEN', {}, { message: 'Only volume-backed servers are allowed for flavors with zero disk.' });
    }
    if (input.trustedCerts && input.trustedCerts.length > 0 && bootFromVolume) {
      throw bad('Image certificate validation is not supported when booting from volume');
    }
    this.#checkNetworks(input);
    for (const g of input.securityGroups ?? []) {
      if (g !== 'default') throw bad(`Security group ${g} not found.`);
    }
    if (input.group) throw bad(`Instance group ${input.group} could not be found.`);
    await this.#o.quotas.checkMetadata(projectId, Object.keys(input.metadata ?? {}).length);
    if ((input.injectedFiles ?? 0) > 0) {
      const limit = (await this.#o.quotas.limits(projectId))['injected_files'] ?? -1;
      if (limit >= 0 && (input.injectedFiles ?? 0) > limit) {
        throw new HitchError('HITCH_COMPUTE_QUOTA_EXCEEDED', {}, { message: 'Personality file limit exceeded' });
      }
    }
    const forced = await this.#forcedHost(ctx, input);
    const count = await this.#o.quotas.allowedServers(projectId, flavor, min, max);

    const reservationId = `r-${Math.random().toString(36).slice(2, 10)}`;
    const servers: ServerRow[] = [];
    for (let i = 0; i < count; i++) {
      const host = await this.#place(forced, input);
      const id = crypto.randomUUID();
      const name = count > 1 ? `${input.name}-${i + 1}` : input.name;
      const server = await this.#o.repo.insertServer({
        id,
        project_id: projectId,
        user_id: ctx.userId,
        name,
        status: host ? 'BUILD' : 'ERROR',
        task_state: host ? 'spawning' : null,
        flavor_id: flavor.id,
        image_id: imageId,
        host: host ?? '',
        domain_name: `instance-${id.slice(0, 8)}${(++this.#serial).toString(16).padStart(4, '0')}`,
        metadata: JSON.stringify(input.metadata ?? {}),
        flavor: JSON.stringify(flavor),
        key_name: input.keyName ?? null,
        user_data: input.userData ?? null,
        availability_zone: input.availabilityZone ? COMPUTE_AZ : null,
        description: input.description ?? null,
        hostname: input.hostname ?? hostnameOf(name),
        config_drive: input.configDrive ? 1 : 0,
        access_ipv4: input.accessIPv4 ?? null,
        access_ipv6: input.accessIPv6 ?? null,
        disk_config: input.diskConfig ?? 'MANUAL',
        tags: JSON.stringify(input.tags ?? []),
        trusted_certs: input.trustedCerts && input.trustedCerts.length > 0 ? JSON.stringify(input.trustedCerts) : null,
        reservation_id: reservationId,
        launch_index: i,
        root_device_name: bootFromVolume ? '/dev/vda' : null,
        fault: host ? null : JSON.stringify({ code: 500, message: NO_VALID_HOST, created: new Date().toISOString() }),
        block_devices: devices.length > 0 ? JSON.stringify(devices) : null,
      });
      servers.push(server);
      // Nova answers 202 and builds in the background; so does Hitch.
      const meta = { requestId: requestId ?? `req-${reservationId}`, projectId, userId: ctx.userId };
      if (host) void this.#o.dispatch.spawn(server, this.#o.domainSpec(server), meta).catch(() => undefined);
    }
    return { servers, reservationId };
  }

  /** A requested volume must exist in the project and be free (or multiattach, from 2.60). */
  async #checkBootDevice(d: BootDevice, projectId: string, multiattachAllowed: boolean): Promise<void> {
    if (d.sourceType === 'image') {
      if (!findImage(d.uuid ?? '')) throw bad(`Block Device Mapping is Invalid: failed to get image ${d.uuid}.`);
      return;
    }
    if (d.sourceType === 'snapshot') throw bad(`Block Device Mapping is Invalid: failed to get snapshot ${d.uuid}.`);
    if (d.sourceType !== 'volume') return;
    const id = d.uuid as string;
    const vol = await this.#o.storage.getVolume(id.toLowerCase(), noSpan).catch(() => null);
    if (!vol || vol.projectId !== projectId) throw bad(`Block Device Mapping is Invalid: failed to get volume ${id}.`);
    if (vol.multiattach && !multiattachAllowed) {
      throw bad('Multiattach volumes are only supported starting with compute API version 2.60.');
    }
    if (vol.status !== 'available' && !(vol.multiattach && vol.status === 'in-use')) {
      throw new HitchError('HITCH_INVALID_VOLUME', {}, { message: `Invalid volume: volume ${id} status must be available, but it is ${vol.status}` });
    }
  }

  /** Hitch has no network service: `none`/`auto` ask for nothing; a named network or port does not exist. */
  #checkNetworks(input: CreateServerInput): void {
    if (!Array.isArray(input.networks)) return;
    for (const n of input.networks) {
      if (n.port) throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: `Port id ${n.port} could not be found.` });
      if (n.uuid) throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: `Network ${n.uuid} could not be found.` });
      if (n.fixed_ip) throw bad(`Fixed IP address ${n.fixed_ip} is not in any network of this cloud.`);
    }
  }

  /** `availability_zone` (`nova`, or an admin's `nova:host`) and 2.74's `host`: the host the caller chose, if any. */
  async #forcedHost(ctx: AuthContext, input: CreateServerInput): Promise<string | null> {
    let forced: string | null = null;
    const az = input.availabilityZone;
    if (az) {
      const parts = az.split(':');
      if (parts.length > 3) throw bad('Unable to parse availability_zone');
      const [zone, host, node] = parts;
      if (zone && zone !== COMPUTE_AZ) throw bad(`The requested availability zone is not available`);
      if (host || node) {
        if (!ctx.isAdmin) throw new HitchError('HITCH_FORBIDDEN', {}, { message: "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed." });
        forced = host || node || null;
      }
    }
    const requested = input.host ?? input.hypervisorHostname ?? null;
    if (requested) {
      if (!ctx.isAdmin) throw new HitchError('HITCH_FORBIDDEN', {}, { message: "Policy doesn't allow compute:servers:create:requested_destination to be performed." });
      if (forced) throw bad('One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.');
      if (input.host && input.hypervisorHostname && input.host !== input.hypervisorHostname) {
        throw bad(`Compute host ${input.host} with hypervisor ${input.hypervisorHostname} could not be found.`);
      }
      forced = requested;
    }
    if (forced && !(await this.#o.hosts.get({ host: forced }))) throw bad(`Compute host ${forced} could not be found.`);
    return forced;
  }

  /**
   * Placement: an enabled, live host — the forced one, or the one with the fewest servers
   * (ties to the first name) among those the hints allow. Null: no valid host.
   */
  async #place(forced: string | null, input: CreateServerInput): Promise<string | null> {
    let hosts = await this.#o.hosts.schedulable();
    // A forced host skips the scheduler's filters in Nova, but not a dead or disabled service.
    if (forced) hosts = hosts.filter((h) => h === forced);
    const hostsOf = async (ids: readonly string[]) =>
      new Set((await Promise.all(ids.map((id) => this.#o.repo.getServer(id)))).filter((s): s is ServerRow => !!s).map((s) => s.host));
    if (input.sameHost?.length) {
      const same = await hostsOf(input.sameHost);
      hosts = hosts.filter((h) => same.has(h));
    }
    if (input.differentHost?.length) {
      const other = await hostsOf(input.differentHost);
      hosts = hosts.filter((h) => !other.has(h));
    }
    if (hosts.length === 0) return null;
    // Spread servers over hosts by count, ties to the first name: deterministic placement.
    const byHost = await this.#o.repo.serverCountsByHost();
    const counts = hosts.map((h) => byHost.get(h) ?? 0);
    return hosts[counts.indexOf(Math.min(...counts))] as string;
  }

  /**
   * Delete: detach every volume first (as Nova does), then destroy the domain. A volume whose
   * mapping says `delete_on_termination` is deleted once it is detached, through `deleteVolume`
   * (Nova deletes it with the caller's credentials, in `_cleanup_volumes`); one that did not
   * detach is left, as Nova leaves it.
   */
  async deleteServer(ctx: AuthContext, id: string, requestId: string, opts: { readonly deleteVolume?: (volumeId: string) => Promise<void> } = {}): Promise<void> {
    const server = await this.getServer(ctx, id);
    await this.#o.repo.setServerStatus(server.id, server.status, 'deleting');
    this.#inBackground(async () => {
      for (const bdm of await this.#o.repo.listBdms(server.id)) {
        if (bdm.status !== 'attached') continue;
        const h = await this.#o.dispatch.detach(server, bdm.volume_id, { requestId, projectId: server.project_id, userId: ctx.userId }).catch(() => null);
        await h?.done;
        if (h && bdm.delete_on_termination === 1 && opts.deleteVolume) {
          const op = await this.#o.repo.getOperation(h.operationId);
          if (op?.state === 'done') await opts.deleteVolume(bdm.volume_id).catch(() => undefined);
        }
      }
      await this.#o.dispatch.destroy(server).catch(() => undefined);
      await this.#o.repo.setServerStatus(server.id, 'DELETED');
    });
  }

  /** Run work the API answered before it finished (Nova's casts); `drain()` waits for it. */
  #inBackground(fn: () => Promise<void>): void {
    const p = fn().catch(() => undefined);
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  /** Wait for the background work this process started (graceful shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  async attachVolume(
    ctx: AuthContext,
    serverId: string,
    volumeId: string,
    device: string | null,
    requestId: string,
    /** The request's microversion allows multiattach volumes (2.60+; in-process callers may). */
    opts: { readonly multiattachAllowed?: boolean; readonly deleteOnTermination?: boolean } = {},
  ): Promise<{ bdm: BdmRow; operationId: string; done: Promise<void> }> {
    const server = await this.getServer(ctx, serverId);
    if (server.status !== 'ACTIVE' || server.task_state === 'deleting') {
      throw new HitchError('HITCH_INSTANCE_INVALID_STATE', { action: 'attach_volume', server: ref(server), serverArg: server.name, state: `vm_state ${server.status.toLowerCase()}` });
    }
    const vol = await this.#o.storage.getVolume(volumeId, noSpan).catch((e: unknown) => {
      if (e instanceof HitchError && e.status === 404) throw notFound('Volume', volumeId);
      throw e;
    });
    if (vol.projectId !== server.project_id) throw notFound('Volume', volumeId);
    if (vol.multiattach && opts.multiattachAllowed === false) throw bad('Multiattach volumes are only supported starting with compute API version 2.60.');
    if (vol.status !== 'available' && !(vol.multiattach && vol.status === 'in-use')) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `volume ${volumeId} status must be available, but it is ${vol.status}` }, {
        message: `Invalid volume: volume ${volumeId} status must be available, but it is ${vol.status}`,
      });
    }
    const h = await this.#o.dispatch.attach(server, volumeId, device, { requestId, projectId: server.project_id, userId: ctx.userId });
    // 2.79: the mapping exists once the reserve returned (here or on the host's agent); the flag
    // goes on it then, before the server can be deleted.
    if (opts.deleteOnTermination === true) {
      await this.#o.repo.updateBdm(h.bdm.id, { delete_on_termination: 1 });
      return { bdm: { ...h.bdm, delete_on_termination: 1 }, operationId: h.operationId, done: h.done };
    }
    return { bdm: h.bdm, operationId: h.operationId, done: h.done };
  }

  /**
   * Nova's `os-server-external-events` (admins: the block storage and network services). Each
   * event is answered on its own: 404 for a server that does not exist, 422 for one on no host
   * (or, for `volume-extended`, with no mapping of the volume in `tag`), 200 when accepted. An
   * accepted `volume-extended` starts an extend operation on the server's host (journalled with
   * this request's id); network events are accepted and change nothing (Hitch plugs no networks).
   */
  async externalEvents(ctx: AuthContext, events: readonly ExternalEvent[], requestId: string): Promise<ExternalEventResult[]> {
    const out: ExternalEventResult[] = [];
    for (const e of events) {
      const base = { name: e.name, server_uuid: e.server_uuid, ...(e.tag !== undefined ? { tag: e.tag } : {}) };
      const server = await this.#o.repo.getServer(e.server_uuid.toLowerCase());
      if (!server) {
        out.push({ ...base, status: 'failed', code: 404 });
        continue;
      }
      if (!server.host) {
        out.push({ ...base, status: 'failed', code: 422 });
        continue;
      }
      if (e.name !== 'volume-extended') {
        out.push({ ...base, status: 'completed', code: 200 });
        continue;
      }
      const volumeId = (e.tag ?? '').toLowerCase();
      const bdm = volumeId ? await this.#o.repo.getBdm(server.id, volumeId) : undefined;
      if (!bdm) {
        out.push({ ...base, status: 'failed', code: 422 });
        continue;
      }
      try {
        const h = await this.#o.dispatch.extend(server, volumeId, { requestId, projectId: server.project_id, userId: ctx.userId });
        this.#inBackground(() => h.done);
        out.push({ ...base, status: 'completed', code: 200 });
      } catch {
        // The host is down or the mapping went meanwhile: not accepted.
        out.push({ ...base, status: 'failed', code: 422 });
      }
    }
    return out;
  }

  async detachVolume(ctx: AuthContext, serverId: string, volumeId: string, requestId: string): Promise<{ operationId: string; done: Promise<void> }> {
    const server = await this.getServer(ctx, serverId);
    const h = await this.#o.dispatch.detach(server, volumeId, { requestId, projectId: server.project_id, userId: ctx.userId });
    return { operationId: h.operationId, done: h.done };
  }

  async listAttachments(ctx: AuthContext, serverId: string): Promise<{ server: ServerRow; bdms: BdmRow[] }> {
    const server = await this.getServer(ctx, serverId);
    return { server, bdms: await this.#o.repo.listBdms(server.id) };
  }

  async getAttachment(ctx: AuthContext, serverId: string, volumeId: string): Promise<{ server: ServerRow; bdm: BdmRow }> {
    const server = await this.getServer(ctx, serverId);
    const bdm = await this.#o.repo.getBdm(server.id, volumeId);
    if (!bdm) throw new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: volumeId, server: serverId });
    return { server, bdm };
  }

  /** The operations of a server and volume, newest first, each with its spans (live when running here). */
  async operations(ctx: AuthContext, serverId: string, volumeId: string): Promise<OperationView[]> {
    const server = await this.getServer(ctx, serverId);
    const ops = await this.#o.repo.listOperations(server.id, volumeId);
    return Promise.all(ops.map((op) => this.#view(op)));
  }

  /**
   * A server's instance actions (Nova's `os-instance-actions`): its operations from the journal,
   * newest first. `includeDeleted` (2.21+): a deleted server's actions stay visible, as in Nova.
   */
  async instanceActions(ctx: AuthContext, serverId: string, includeDeleted: boolean): Promise<{ server: ServerRow; operations: OperationRow[] }> {
    const s = includeDeleted ? await this.#o.repo.getServerAny(serverId) : await this.#o.repo.getServer(serverId);
    if (!s || (!ctx.isAdmin && s.project_id !== ctx.projectId)) throw notFound('Instance', serverId);
    const ops = await this.#o.repo.listOperations(s.id);
    // Newest first by when they were asked for (the `_ms` times are each host's own clock).
    ops.sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1));
    return { server: s, operations: ops };
  }

  /**
   * A page of the operation history the caller may see (its project's; every project's for an
   * admin who asks for all), newest first, without spans.
   */
  async operationHistory(ctx: AuthContext, q: Omit<OperationQuery, 'projectId' | 'after'> & { allProjects: boolean; marker?: string }): Promise<OperationRow[]> {
    const projectId = ctx.isAdmin && q.allProjects ? null : (ctx.projectId ?? '');
    let after: OperationQuery['after'];
    if (q.marker !== undefined) {
      const m = await this.#o.repo.getOperation(q.marker);
      if (!m || (projectId !== null && m.project_id !== projectId)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `marker [${q.marker}] not found` }, { message: `marker [${q.marker}] not found` });
      after = { created_at: m.created_at, id: m.id };
    }
    const { allProjects: _a, marker: _m, ...rest } = q;
    return this.#o.repo.listOperationsPage({ ...rest, projectId, ...(after ? { after } : {}) });
  }

  /** One operation by id, checked against the caller's project. */
  async operation(ctx: AuthContext, operationId: string): Promise<OperationView> {
    const op = await this.#o.repo.getOperation(operationId);
    if (!op || (!ctx.isAdmin && op.project_id !== ctx.projectId)) throw notFound('Operation', operationId);
    return this.#view(op);
  }

  /**
   * The recent normal of an operation's steps: p50 and p95 over the last `sample` done
   * operations of its kind on its backend (trace/normal.ts), every project's (a backend is
   * shared; only durations leave). At most 4 × `sample` newer-to-older traces are read.
   */
  async recentNormal(ctx: AuthContext, operationId: string, sample = 50): Promise<RecentNormal> {
    const { operation: op, spans } = await this.operation(ctx, operationId);
    const backend = backendOf(spans);
    const traces: SpanRecord[][] = [];
    const rows = await this.#o.repo.listOperationsPage({ projectId: null, status: 'done', kind: op.kind, limit: 4 * sample });
    for (const r of rows) {
      if (traces.length >= sample) break;
      if (r.id === op.id || r.created_at > op.created_at) continue;
      const t = await this.#o.repo.loadSpans(r.id);
      if (backendOf(t) === backend) traces.push(t);
    }
    return recentNormal(op.kind, backend, traces);
  }

  async #view(op: OperationRow): Promise<OperationView> {
    const live = op.state === 'running' ? this.#o.dispatch.liveTrace(op.id) : undefined;
    const spans = live ? live.spans.map((s) => ({ ...s, attrs: { ...s.attrs } })) : await this.#o.repo.loadSpans(op.id);
    return { operation: op, spans };
  }
}

/** Nova's default hostname: the display name, lowercased, with anything but letters, digits and dashes turned to dashes. */
function hostnameOf(name: string): string {
  const h = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return h || 'server';
}

export { invalidBdm };
