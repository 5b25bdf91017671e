/**
 * OpenStack microversions: `OpenStack-API-Version: volume 3.44` (or `compute 2.79`).
 *
 * Parsing follows Cinder's and Nova's: a missing header means the minimum, `latest` means the
 * maximum, a malformed one is a 400, one outside [min, max] is a 406.
 */
import { HitchError } from '../errors.ts';

export class ApiVersion {
  readonly major: number;
  readonly minor: number;

  constructor(major: number, minor: number) {
    this.major = major;
    this.minor = minor;
  }

  /** Parse `3.44`; null when malformed. */
  static parse(s: string): ApiVersion | null {
    const m = /^([1-9]\d*)\.(0|[1-9]\d*)$/.exec(s.trim());
    return m ? new ApiVersion(Number(m[1]), Number(m[2])) : null;
  }

  compare(o: ApiVersion): number {
    return this.major - o.major || this.minor - o.minor;
  }

  /** True when this version is at least `v` (a string like `3.27`). */
  atLeast(v: string): boolean {
    const o = ApiVersion.parse(v);
    if (!o) throw new Error(`bad version literal ${v}`);
    return this.compare(o) >= 0;
  }

  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

export interface MicroversionRange {
  /** Service name in the header: `volume`, `compute`. */
  readonly service: string;
  readonly min: string;
  readonly max: string;
  /** Legacy header also read (Nova's `X-OpenStack-Nova-API-Version`). */
  readonly legacyHeader?: string;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The version a request asks for, validated against `range`. */
export function negotiateMicroversion(headers: Headers, range: MicroversionRange): ApiVersion {
  const min = ApiVersion.parse(range.min);
  const max = ApiVersion.parse(range.max);
  if (!min || !max) throw new Error('bad microversion range');
  let requested: string | undefined;
  const h = headerValue(headers, 'openstack-api-version');
  if (h) {
    for (const part of h.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/, 2);
      if (svc?.toLowerCase() === range.service && ver !== undefined) requested = ver;
    }
  }
  if (requested === undefined && range.legacyHeader) requested = headerValue(headers, range.legacyHeader);
  if (requested === undefined || requested === '') return min;
  if (requested.toLowerCase() === 'latest') return max;
  const v = ApiVersion.parse(requested);
  if (!v) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'version' }, {
      message: `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`,
    });
  }
  if (v.compare(min) < 0 || v.compare(max) > 0) {
    throw new HitchError('HITCH_API_VERSION_NOT_ACCEPTABLE', {
      version: v.toString(),
      min: min.toString(),
      max: max.toString(),
    });
  }
  return v;
}
