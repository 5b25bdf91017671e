/**
 * The compute API's logic, apart from HTTP: servers (placed on a live compute host), volume
 * attachments and their traces, with project isolation (another project's server or volume is
 * a 404, as Nova answers) — and every operation handed to the owning host's manager through
 * the dispatch interface.
 */
import { HitchError, ref } from '../errors.ts';
import type { AuthContext } from '../identity/identity-service.ts';
import { realClock } from '../host/linux-host.ts';
import { noopSpan, type SpanRecord } from '../trace/span.ts';
import type { DomainSpec } from '../virt/domain-xml.ts';
import type { ComputeDispatch } from './dispatch.ts';
import { findFlavor, findImage } from './flavors.ts';
import type { VolumeAttachProtocol } from './ports.ts';
import type { BdmRow, ComputeRepository, OperationRow, ServerFilter, ServerRow, ServerSort } from './repository.ts';

export interface CreateServerInput {
  readonly name: string;
  readonly imageRef: string;
  readonly flavorRef: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface ComputeServiceOptions {
  readonly repo: ComputeRepository;
  readonly dispatch: ComputeDispatch;
  readonly storage: VolumeAttachProtocol;
  /** Domain details per host (virt type, tiny-guest boot), decided by the host's config. */
  readonly domainSpec: (server: ServerRow) => DomainSpec;
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

  get repo(): ComputeRepository {
    return this.#o.repo;
  }

  /** A server the caller may see: its own project's, or any for an admin. */
  async getServer(ctx: AuthContext, id: string): Promise<ServerRow> {
    const s = await this.#o.repo.getServer(id, ctx.isAdmin ? undefined : (ctx.projectId ?? '-'));
    if (!s) throw notFound('Instance', id);
    return s;
  }

  /** A page of the servers the caller may see: its project's, or with `allTenants` any (admins). */
  async listServers(
    ctx: AuthContext,
    f: Omit<ServerFilter, 'projectId'> & { allTenants: boolean; projectId?: string },
    sort: readonly ServerSort[],
    limit: number | undefined,
    marker: ServerRow | undefined,
  ): Promise<ServerRow[]> {
    const { allTenants, projectId, ...rest } = f;
    const scope = ctx.isAdmin && allTenants ? (projectId ?? null) : (ctx.projectId ?? '-');
    return this.#o.repo.listServerPage({ ...rest, projectId: scope }, sort, limit, marker);
  }

  async createServer(ctx: AuthContext, input: CreateServerInput): Promise<ServerRow> {
    if (!ctx.projectId) throw new HitchError('HITCH_FORBIDDEN', { action: 'os_compute_api:servers:create' });
    const flavor = findFlavor(input.flavorRef);
    if (!flavor) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'flavor' }, { message: `Flavor ${input.flavorRef} could not be found.` });
    const image = findImage(input.imageRef);
    if (!image) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'image' }, { message: `Image ${input.imageRef} could not be found.` });
    const hosts = await this.#o.dispatch.liveHosts();
    if (hosts.length === 0) {
      throw new HitchError('HITCH_COMPUTE_HOST_DOWN', { host: '*' }, { message: 'No valid host was found. There are not enough hosts available.' });
    }
    // Spread servers over hosts by count, ties to the first name: deterministic placement.
    const byHost = await this.#o.repo.serverCountsByHost();
    const counts = hosts.map((h) => byHost.get(h) ?? 0);
    const host = hosts[counts.indexOf(Math.min(...counts))] as string;
    const id = crypto.randomUUID();
    const server = await this.#o.repo.insertServer({
      id,
      project_id: ctx.projectId,
      user_id: ctx.userId,
      name: input.name,
      status: 'BUILD',
      task_state: 'spawning',
      flavor_id: flavor.id,
      image_id: image.id,
      host,
      domain_name: `instance-${id.slice(0, 8)}${(++this.#serial).toString(16).padStart(4, '0')}`,
      metadata: JSON.stringify(input.metadata ?? {}),
    });
    // Nova answers 202 and builds in the background; so does Hitch.
    void this.#o.dispatch.spawn(server, this.#o.domainSpec(server)).catch(() => undefined);
    return server;
  }

  /** Delete: detach every volume first (as Nova does), then destroy the domain. */
  async deleteServer(ctx: AuthContext, id: string, requestId: string): Promise<void> {
    const server = await this.getServer(ctx, id);
    await this.#o.repo.setServerStatus(server.id, server.status, 'deleting');
    this.#inBackground(async () => {
      for (const bdm of await this.#o.repo.listBdms(server.id)) {
        if (bdm.status !== 'attached') continue;
        const h = await this.#o.dispatch.detach(server, bdm.volume_id, { requestId, projectId: server.project_id }).catch(() => null);
        await h?.done;
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
    if (vol.status !== 'available' && !(vol.multiattach && vol.status === 'in-use')) {
      throw new HitchError('HITCH_INVALID_VOLUME', { reason: `volume ${volumeId} status must be available, but it is ${vol.status}` }, {
        message: `Invalid volume: volume ${volumeId} status must be available, but it is ${vol.status}`,
      });
    }
    const h = await this.#o.dispatch.attach(server, volumeId, device, { requestId, projectId: server.project_id });
    return { bdm: h.bdm, operationId: h.operationId, done: h.done };
  }

  async detachVolume(ctx: AuthContext, serverId: string, volumeId: string, requestId: string): Promise<{ operationId: string; done: Promise<void> }> {
    const server = await this.getServer(ctx, serverId);
    const h = await this.#o.dispatch.detach(server, volumeId, { requestId, projectId: server.project_id });
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

  /** One operation by id, checked against the caller's project. */
  async operation(ctx: AuthContext, operationId: string): Promise<OperationView> {
    const op = await this.#o.repo.getOperation(operationId);
    if (!op || (!ctx.isAdmin && op.project_id !== ctx.projectId)) throw notFound('Operation', operationId);
    return this.#view(op);
  }

  async #view(op: OperationRow): Promise<OperationView> {
    const live = op.state === 'running' ? this.#o.dispatch.liveTrace(op.id) : undefined;
    const spans = live ? live.spans.map((s) => ({ ...s, attrs: { ...s.attrs } })) : await this.#o.repo.loadSpans(op.id);
    return { operation: op, spans };
  }
}
