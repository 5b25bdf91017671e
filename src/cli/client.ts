/**
 * The CLI's HTTP client: a Keystone token (password, project-scoped), the endpoints from the
 * token's catalog, and JSON requests to them. Errors become one HitchError with the catalog
 * code. `debug` gets each request as the seed's logs show it — a curl line with the token
 * masked as `{SHA1}…` — and each response's status.
 */
import { createHash } from 'node:crypto';
import { HitchError } from '../errors.ts';
import { apiError } from './api-error.ts';
import type { CliAuth } from './auth.ts';

export type Service = 'compute' | 'volume' | 'image' | 'identity';

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface ClientOptions {
  readonly debug?: ((line: string) => void) | undefined;
  /** Per-request timeout, wall clock (default 30 s). */
  readonly timeoutMs?: number;
}

const COMPUTE_VERSION = 'compute 2.79';
const VOLUME_VERSION = 'volume 3.70';

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; url: string }[];
}

export class HitchClient {
  readonly auth: CliAuth;
  readonly #opts: ClientOptions;
  #token: string | null = null;
  #endpoints = new Map<Service, string>();
  /** The server's host clock (virtual on the simulator) at the last response, if it said. */
  clockMs: number | null = null;

  constructor(auth: CliAuth, opts: ClientOptions = {}) {
    this.auth = auth;
    this.#opts = opts;
    this.#endpoints.set('identity', auth.authUrl.replace(/\/+$/, ''));
  }

  async #fetch(method: string, url: string, body: unknown, headers: Record<string, string>): Promise<ApiResponse> {
    const h: Record<string, string> = { accept: 'application/json', 'user-agent': 'hitch-cli', ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (this.#opts.debug) {
      const shown = Object.entries(h)
        .map(([k, v]) => `-H "${k}: ${k === 'x-auth-token' ? `{SHA1}${createHash('sha1').update(v).digest('hex')}` : v}"`)
        .join(' ');
      const data = body === undefined ? '' : ` -d '${JSON.stringify(body, (k, v: unknown) => (k === 'password' ? '***' : v))}'`;
      this.#opts.debug(`REQ: curl -g -i -X ${method} ${url} ${shown}${data}`);
    }
    let r: Response;
    try {
      r = await fetch(url, {
        method,
        headers: h,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new HitchError('HITCH_UPSTREAM_UNAVAILABLE', {}, { message: `cannot reach ${new URL(url).origin} (${why}); is \`hitch serve\` running?` });
    }
    const text = await r.text();
    const clock = r.headers.get('x-hitch-clock-ms');
    if (clock !== null && /^\d+(\.\d+)?$/.test(clock)) this.clockMs = Number(clock);
    this.#opts.debug?.(`RESP: ${r.status} ${r.headers.get('x-openstack-request-id') ?? ''} (${text.length} bytes)`);
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: r.status, body: parsed, headers: r.headers };
  }

  /** Get a project-scoped token and the catalog (once). */
  async login(): Promise<void> {
    if (this.#token) return;
    const a = this.auth;
    const r = await this.#fetch('POST', `${this.#endpoints.get('identity')}/auth/tokens`, {
      auth: {
        identity: { methods: ['password'], password: { user: { name: a.username, domain: { name: a.userDomain }, password: a.password } } },
        scope: { project: { name: a.projectName, domain: { name: a.projectDomain } } },
      },
    }, {});
    if (r.status !== 201) throw apiError(r.status, r.body, `login as ${a.username} at ${a.authUrl}`, r.headers.get('x-hitch-error-code'));
    const token = r.headers.get('x-subject-token');
    if (!token) throw new HitchError('HITCH_UNAUTHORIZED', {}, { message: `${a.authUrl} issued no token` });
    this.#token = token;
    const catalog = ((r.body as { token?: { catalog?: CatalogEntry[] } }).token?.catalog ?? []) as CatalogEntry[];
    const url = (types: string[]): string | undefined =>
      catalog.find((c) => types.includes(c.type))?.endpoints.find((e) => e.interface === 'public')?.url.replace(/\/+$/, '');
    const compute = url(['compute']);
    const volume = url(['volumev3', 'block-storage']);
    if (!compute || !volume) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'the catalog has no compute or block-storage endpoint' });
    this.#endpoints.set('compute', compute);
    this.#endpoints.set('volume', volume);
    const image = url(['image']);
    if (image) this.#endpoints.set('image', image);
  }

  /** A request; the caller looks at the status. */
  async request<T = unknown>(service: Service, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    await this.login();
    const headers: Record<string, string> = { 'x-auth-token': this.#token as string };
    if (service === 'compute') headers['openstack-api-version'] = COMPUTE_VERSION;
    if (service === 'volume') headers['openstack-api-version'] = VOLUME_VERSION;
    return (await this.#fetch(method, `${this.#endpoints.get(service)}${path}`, body, headers)) as ApiResponse<T>;
  }

  /** A request that must succeed (2xx); anything else throws with the catalog code. */
  async call<T = unknown>(service: Service, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const r = await this.request<T>(service, method, path, body);
    if (r.status >= 400) throw apiError(r.status, r.body, `${method} ${path}`, r.headers.get('x-hitch-error-code'));
    return r;
  }
}
