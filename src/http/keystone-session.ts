/**
 * A service's own session with a Keystone v3 endpoint, as Nova keeps one for its `[cinder]`
 * section: password authentication scoped to a project, the token reused until shortly before
 * it expires, and the endpoint of a service type taken from the token's catalog.
 *
 * The password is sent only in the authentication request's body; neither it nor the token
 * appears in an error.
 */
import { HitchError } from '../errors.ts';

export interface KeystoneSessionOptions {
  /** The identity endpoint, ending in `/v3` (`http://HOST:PORT/identity/v3` for a Hitch). */
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  /** Default `Default`, for both the user and the project. */
  readonly domainName?: string;
  /** Get a new token this long before the current one expires (ms); default 60 s. */
  readonly renewBeforeMs?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

interface CatalogEntry {
  readonly type?: unknown;
  readonly endpoints?: ReadonlyArray<{ interface?: unknown; url?: unknown }>;
}

interface Issued {
  readonly token: string;
  readonly expiresAt: number;
  readonly catalog: readonly CatalogEntry[];
}

export class KeystoneSession {
  readonly #o: KeystoneSessionOptions;
  readonly #authUrl: string;
  #issued: Issued | null = null;
  #pending: Promise<Issued> | null = null;

  constructor(opts: KeystoneSessionOptions) {
    this.#o = opts;
    this.#authUrl = opts.authUrl.replace(/\/+$/, '');
  }

  /** A valid token: the current one, or a new one once it is about to expire. */
  async token(): Promise<string> {
    return (await this.#current()).token;
  }

  /**
   * The public endpoint of the first of `types` the catalog lists (`volumev3`, `block-storage`
   * for the block storage service), without a trailing slash.
   */
  async endpoint(types: readonly string[]): Promise<string> {
    const { catalog } = await this.#current();
    for (const t of types) {
      const url = catalog.find((c) => c.type === t)?.endpoints?.find((e) => e.interface === 'public')?.url;
      if (typeof url === 'string' && url.length > 0) return url.replace(/\/+$/, '');
    }
    throw new HitchError('HITCH_UPSTREAM_ERROR', {
      service: 'identity',
      status: 201,
      method: 'POST',
      path: `${new URL(this.#authUrl).pathname}/auth/tokens`,
      detail: `the catalog of ${this.#o.username}@${this.#o.projectName} lists no public ${types.join(' or ')} endpoint`,
    });
  }

  async #current(): Promise<Issued> {
    const now = (this.#o.now ?? Date.now)();
    const i = this.#issued;
    if (i && i.expiresAt - (this.#o.renewBeforeMs ?? 60_000) > now) return i;
    // One authentication at a time: concurrent callers share it.
    this.#pending ??= this.#authenticate().finally(() => (this.#pending = null));
    this.#issued = await this.#pending;
    return this.#issued;
  }

  async #authenticate(): Promise<Issued> {
    const domain = { name: this.#o.domainName ?? 'Default' };
    const url = `${this.#authUrl}/auth/tokens`;
    const path = new URL(url).pathname;
    let res: Response;
    try {
      res = await (this.#o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'hitch-keystone-session' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: this.#o.username, domain, password: this.#o.password } } },
            scope: { project: { name: this.#o.projectName, domain } },
          },
        }),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000),
      });
    } catch (e) {
      const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new HitchError('HITCH_UPSTREAM_UNAVAILABLE', { service: 'identity', detail: `cannot reach ${url} (${why})`, next: 'the block storage URL in the configuration' }, { cause: e });
    }
    const text = await res.text();
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) {
      const detail =
        res.status === 401
          ? `${this.#o.username} could not authenticate in project ${this.#o.projectName} (check the configured user, project and password)`
          : `no token (${text.slice(0, 200)})`;
      throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'identity', status: res.status, method: 'POST', path, detail });
    }
    let body: { token?: { expires_at?: unknown; catalog?: unknown } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new HitchError('HITCH_UPSTREAM_ERROR', { service: 'identity', status: res.status, method: 'POST', path, detail: 'the answer is not JSON' });
    }
    const expires = typeof body.token?.expires_at === 'string' ? Date.parse(body.token.expires_at) : NaN;
    const catalog = Array.isArray(body.token?.catalog) ? (body.token.catalog as CatalogEntry[]) : [];
    // A token without a readable expiry is used for one call chain, then renewed.
    return { token, expiresAt: Number.isFinite(expires) ? expires : 0, catalog };
  }
}
