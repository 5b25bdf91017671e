/**
 * The typed block storage client Hitch's compute service uses — against Hitch's own service or
 * a real Cinder. It speaks both attach flows (the attachments API from 3.27/3.44, and the legacy
 * volume actions), negotiates the microversion from version discovery, retries 500/503/504
 * only for idempotent calls, and logs each request as keystoneauth does in the seed:
 *
 *   REQ: curl -g -i -X GET http://…/volumes/<id> -H "User-Agent: hitch-volume-client" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}<sha1>"
 *
 * The token never appears in clear; CHAP secrets in responses are not logged.
 */
import { randomUUID } from 'node:crypto';
import { HitchError } from '../errors.ts';
import { ApiVersion } from '../http/microversion.ts';
import { maskToken } from '../http/mask.ts';
import type { ConnectorProperties } from '../ports/attach.ts';

export interface BlockStorageClientOptions {
  /** The volume endpoint from the catalog: `http://host/volume/v3/{project_id}` (or Cinder's `:8776/v3/{project}`). */
  readonly endpoint: string;
  readonly token: string | (() => Promise<string>);
  /** Highest microversion this caller understands; the server's maximum caps it. Default 3.70. */
  readonly maxVersion?: string;
  /** Retries for idempotent calls on 500/503/504 and connection errors. Default 3. */
  readonly retries?: number;
  /** Delay before retry n (1-based); default 200 ms × 2^(n-1). Tests pass a virtual-clock sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly retryBaseMs?: number;
  readonly timeoutMs?: number;
  /** Debug log sink (one line per request). */
  readonly log?: (line: string) => void;
  /** Sent as X-OpenStack-Request-ID so both services' logs share it. */
  readonly globalRequestId?: string;
  readonly fetch?: typeof fetch;
}

export interface VolumeInfo {
  readonly id: string;
  readonly status: string;
  readonly size: number;
  readonly name: string | null;
  readonly multiattach: boolean;
  readonly attachments: ReadonlyArray<{ attachment_id: string; server_id: string | null; device: string | null; host_name: string | null }>;
  readonly [key: string]: unknown;
}

export interface AttachmentInfo {
  readonly id: string;
  readonly status: string;
  readonly instance: string | null;
  readonly volume_id: string;
  readonly attach_mode?: string;
  readonly attached_at?: string | null;
  readonly detached_at?: string | null;
  /** As the endpoint sent it; the caller checks it (`parseConnectionInfo`) before use. */
  readonly connection_info?: unknown;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const IDEMPOTENT: ReadonlySet<Method> = new Set(['GET', 'PUT', 'DELETE']);
const RETRY_STATUS: ReadonlySet<number> = new Set([500, 503, 504]);

/** Map an upstream error status to the catalog, keeping the upstream message. */
function upstreamError(status: number, method: string, path: string, message: string): HitchError {
  const details = { service: 'block-storage', status, method, path, detail: message };
  if (status === 404) return new HitchError('HITCH_NOT_FOUND', { kind: 'Volume resource', id: path, ...details }, { message });
  if (status === 409) return new HitchError('HITCH_CONFLICT', { reason: message, ...details }, { message });
  if (status === 400) return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message, ...details }, { message });
  if (status === 401) return new HitchError('HITCH_UNAUTHORIZED', details);
  if (status === 403) return new HitchError('HITCH_FORBIDDEN', { action: `${method} ${path}`, ...details });
  if (status === 503) return new HitchError('HITCH_UPSTREAM_UNAVAILABLE', details);
  return new HitchError('HITCH_UPSTREAM_ERROR', details);
}

function faultMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, { message?: string }>;
    const first = Object.values(body)[0];
    if (first && typeof first.message === 'string') return first.message;
  } catch {
    // not JSON: fall through
  }
  return text.slice(0, 200);
}

export class BlockStorageClient {
  readonly #o: BlockStorageClientOptions;
  readonly #endpoint: string;
  #version: ApiVersion | null = null;

  constructor(opts: BlockStorageClientOptions) {
    this.#o = opts;
    this.#endpoint = opts.endpoint.replace(/\/+$/, '');
  }

  /** The negotiated microversion (after `negotiate()`), e.g. `3.70`. */
  get version(): string | null {
    return this.#version?.toString() ?? null;
  }

  /** Whether the server speaks the attachments API with os-complete (3.44). */
  get supportsAttachments(): boolean {
    return this.#version !== null && this.#version.atLeast('3.44');
  }

  /**
   * Version discovery: GET the unversioned root (`…/volume/` or Cinder's `:8776/`) and pick
   * min(our max, the server's max). A server without microversions gets 3.0 (legacy flow).
   */
  async negotiate(): Promise<string> {
    const root = this.#endpoint.replace(/\/v3(\/[^/]*)?$/, '/');
    const res = await this.#send('GET', root, undefined, { versioned: false, allow300: true });
    const body = res.body as { versions?: Array<{ id?: string; version?: string; min_version?: string; status?: string }> };
    const v3 = body.versions?.find((v) => v.id?.startsWith('v3'));
    const serverMax = ApiVersion.parse(v3?.version ?? '') ?? new ApiVersion(3, 0);
    const ours = ApiVersion.parse(this.#o.maxVersion ?? '3.70') ?? new ApiVersion(3, 70);
    this.#version = serverMax.compare(ours) < 0 ? serverMax : ours;
    return this.#version.toString();
  }

  // --- volumes ----------------------------------------------------------------------------
  async getVolume(id: string): Promise<VolumeInfo> {
    return ((await this.#call('GET', `/volumes/${id}`)).body as { volume: VolumeInfo }).volume;
  }

  async createVolume(v: { size: number; name?: string; volumeType?: string; multiattach?: boolean }): Promise<VolumeInfo> {
    const body = { volume: { size: v.size, name: v.name ?? null, volume_type: v.volumeType ?? null, ...(v.multiattach ? { multiattach: true } : {}) } };
    return ((await this.#call('POST', '/volumes', body)).body as { volume: VolumeInfo }).volume;
  }

  async deleteVolume(id: string): Promise<void> {
    await this.#call('DELETE', `/volumes/${id}`);
  }

  // --- legacy actions ------------------------------------------------------------------------
  async reserve(id: string): Promise<void> {
    await this.#action(id, { 'os-reserve': null });
  }
  async unreserve(id: string): Promise<void> {
    await this.#action(id, { 'os-unreserve': null });
  }
  /** The `connection_info` as the endpoint sent it; the caller checks it (`parseConnectionInfo`) before use. */
  async initializeConnection(id: string, connector: ConnectorProperties): Promise<unknown> {
    return ((await this.#action(id, { 'os-initialize_connection': { connector } })) as { connection_info?: unknown }).connection_info;
  }
  async terminateConnection(id: string, connector: ConnectorProperties): Promise<void> {
    await this.#action(id, { 'os-terminate_connection': { connector } });
  }
  async attach(id: string, a: { instanceUuid: string; mountpoint: string; mode?: 'rw' | 'ro'; hostName?: string }): Promise<void> {
    await this.#action(id, { 'os-attach': { instance_uuid: a.instanceUuid, mountpoint: a.mountpoint, mode: a.mode ?? 'rw', ...(a.hostName ? { host_name: a.hostName } : {}) } });
  }
  async beginDetaching(id: string): Promise<void> {
    await this.#action(id, { 'os-begin_detaching': null });
  }
  async rollDetaching(id: string): Promise<void> {
    await this.#action(id, { 'os-roll_detaching': null });
  }
  /** Admin `os-reset_status`. */
  async resetStatus(id: string, status: string): Promise<void> {
    await this.#action(id, { 'os-reset_status': { status } });
  }
  async detach(id: string, attachmentId?: string): Promise<void> {
    await this.#action(id, { 'os-detach': { attachment_id: attachmentId ?? null } });
  }
  async forceDetach(id: string, attachmentId?: string, connector?: ConnectorProperties): Promise<void> {
    await this.#action(id, { 'os-force_detach': { attachment_id: attachmentId ?? null, connector: connector ?? null } });
  }

  // --- attachments API --------------------------------------------------------------------------
  async createAttachment(a: { volumeId: string; instanceUuid: string; connector?: ConnectorProperties; mode?: 'rw' | 'ro' }): Promise<AttachmentInfo> {
    const mode = a.mode && this.#version?.atLeast('3.54') ? { mode: a.mode } : {};
    const body = { attachment: { volume_uuid: a.volumeId, instance_uuid: a.instanceUuid, connector: a.connector ?? null, ...mode } };
    return ((await this.#call('POST', '/attachments', body)).body as { attachment: AttachmentInfo }).attachment;
  }
  async updateAttachment(id: string, connector: ConnectorProperties): Promise<AttachmentInfo> {
    return ((await this.#call('PUT', `/attachments/${id}`, { attachment: { connector } })).body as { attachment: AttachmentInfo }).attachment;
  }
  async completeAttachment(id: string): Promise<void> {
    await this.#call('POST', `/attachments/${id}/action`, { 'os-complete': null });
  }
  async deleteAttachment(id: string): Promise<void> {
    await this.#call('DELETE', `/attachments/${id}`);
  }
  async getAttachment(id: string): Promise<AttachmentInfo> {
    return ((await this.#call('GET', `/attachments/${id}`)).body as { attachment: AttachmentInfo }).attachment;
  }
  async listAttachments(f: { volumeId?: string; instanceId?: string } = {}): Promise<AttachmentInfo[]> {
    const q = new URLSearchParams();
    if (f.volumeId) q.set('volume_id', f.volumeId);
    if (f.instanceId) q.set('instance_id', f.instanceId);
    const qs = q.toString();
    return ((await this.#call('GET', `/attachments/detail${qs ? `?${qs}` : ''}`)).body as { attachments: AttachmentInfo[] }).attachments;
  }

  // --- transport --------------------------------------------------------------------------------
  async #action(id: string, body: Record<string, unknown>): Promise<unknown> {
    return (await this.#call('POST', `/volumes/${id}/action`, body)).body;
  }

  async #call(method: Method, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    if (this.#version === null) await this.negotiate();
    return this.#send(method, `${this.#endpoint}${path}`, body, { versioned: true, allow300: false });
  }

  async #send(method: Method, url: string, body: unknown, o: { versioned: boolean; allow300: boolean }): Promise<{ status: number; body: unknown }> {
    const token = typeof this.#o.token === 'string' ? this.#o.token : await this.#o.token();
    const headers: Record<string, string> = { 'User-Agent': 'hitch-volume-client', Accept: 'application/json' };
    if (o.versioned && this.#version) headers['OpenStack-API-Version'] = `volume ${this.#version.toString()}`;
    headers['X-OpenStack-Request-ID'] = this.#o.globalRequestId ?? `req-${randomUUID()}`;
    headers['X-Auth-Token'] = token;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    this.#o.log?.(this.#curl(method, url, headers, payload));
    const retries = IDEMPOTENT.has(method) ? (this.#o.retries ?? 3) : 0;
    const doFetch = this.#o.fetch ?? fetch;
    const path = new URL(url).pathname;
    let sawServerError = false;
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let text: string;
      try {
        const res = await doFetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 60_000) });
        status = res.status;
        text = await res.text();
      } catch (e) {
        if (attempt < retries) {
          await this.#pause(attempt + 1);
          continue;
        }
        throw new HitchError('HITCH_UPSTREAM_UNAVAILABLE', { service: 'block-storage', detail: (e as Error).message }, { cause: e });
      }
      this.#o.log?.(`RESP: [${status}] ${method} ${url}`);
      if (RETRY_STATUS.has(status) && attempt < retries) {
        sawServerError = true;
        await this.#pause(attempt + 1);
        continue;
      }
      // A DELETE retried after a server error may find its work already done.
      if (status === 404 && method === 'DELETE' && sawServerError) return { status: 204, body: null };
      if ((status >= 200 && status < 300) || (o.allow300 && status === 300)) {
        return { status, body: text === '' ? null : (JSON.parse(text) as unknown) };
      }
      throw upstreamError(status, method, path, faultMessage(text));
    }
  }

  async #pause(n: number): Promise<void> {
    const ms = (this.#o.retryBaseMs ?? 200) * 2 ** (n - 1);
    await (this.#o.sleep ?? ((x: number) => new Promise<void>((r) => setTimeout(r, x))))(ms);
  }

  #curl(method: string, url: string, headers: Record<string, string>, payload: string | undefined): string {
    const h = Object.entries(headers)
      .map(([k, v]) => `-H "${k}: ${k.toLowerCase() === 'x-auth-token' ? maskToken(v) : v}"`)
      .join(' ');
    return `REQ: curl -g -i -X ${method} ${url} ${h}${payload !== undefined ? ` -d '${payload}'` : ''}`;
  }
}
