/**
 * The one catalog of Hitch errors.
 *
 * Every error Hitch raises carries a stable `code` from this table, a clear message, and — for
 * the API edge — the HTTP status and the OpenStack fault name that Cinder/Nova would use
 * (`{"badRequest": {"message": …, "code": 400}}`). Add a code here before throwing it; the
 * catalog test checks that every entry is complete and that the README's list agrees.
 */

export type OpenStackFault =
  | 'badRequest'
  | 'unauthorized'
  | 'forbidden'
  | 'itemNotFound'
  | 'conflictingRequest'
  | 'overLimit'
  | 'notImplemented'
  | 'computeFault'
  | 'serviceUnavailable'
  | 'requestEntityTooLarge'
  | 'badMediaType'
  | 'methodNotAllowed';

interface CatalogEntry {
  readonly status: number;
  readonly fault: OpenStackFault;
  /** A message template: `{name}` is replaced by the detail of the same name. */
  readonly message: string;
}

export const ERROR_CATALOG = {
  // --- input validation -------------------------------------------------------------------
  HITCH_INVALID_ARGUMENT: { status: 400, fault: 'badRequest', message: 'Invalid argument: {reason}' },
  HITCH_INVALID_CONNECTION_INFO: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid connection_info field {field}: {reason}',
  },
  // --- host port ----------------------------------------------------------------------------
  HITCH_EXEC_NOT_ALLOWED: {
    status: 500,
    fault: 'computeFault',
    message: 'Command {cmd} is not in the allowlist of binaries Hitch may run',
  },
  HITCH_EXEC_BAD_ARGUMENT: {
    status: 500,
    fault: 'computeFault',
    message: 'Refusing to run {cmd}: argument {index} {reason}',
  },
  HITCH_EXEC_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Command failed: {command} (exit code {exitCode}): {stderr}',
  },
  HITCH_EXEC_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'Command timed out after {timeoutMs} ms: {command}',
  },
  HITCH_PATH_NOT_ALLOWED: {
    status: 500,
    fault: 'computeFault',
    message: 'Path {path} is outside the roots Hitch may touch ({roots})',
  },
  HITCH_PATH_NOT_FOUND: { status: 500, fault: 'computeFault', message: 'No such file or directory: {path}' },
  HITCH_PATH_WAIT_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'Timed out after {timeoutMs} ms waiting for {path} to {what}',
  },
  HITCH_ABORTED: { status: 500, fault: 'computeFault', message: 'Operation aborted: {reason}' },
  // --- simulator ----------------------------------------------------------------------------
  HITCH_SIM_UNKNOWN_SCENARIO: {
    status: 400,
    fault: 'badRequest',
    message: 'Unknown scenario {name}; known scenarios: {known}',
  },
  HITCH_SIM_INVALID_SCENARIO: { status: 400, fault: 'badRequest', message: 'Invalid scenario: {reason}' },
  HITCH_SIM_DEADLOCK: {
    status: 500,
    fault: 'computeFault',
    message: 'Simulation deadlock: tasks are waiting but no timer is pending ({detail})',
  },
  // --- initiator (brick) --------------------------------------------------------------------
  HITCH_MULTIPATHD_DOWN: {
    status: 500,
    fault: 'computeFault',
    message: 'multipathd is not running, and multipath is enforced on this host',
  },
  HITCH_ISCSI_LOGIN_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Could not log in to any iSCSI portal of {target}: {detail}',
  },
  HITCH_ISCSI_LOGIN_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'iSCSI login to {portal} timed out after {seconds} s (iscsiadm exit 8)',
  },
  HITCH_ISCSI_AUTH_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'iSCSI login to {portal} was refused: authentication failed (iscsiadm exit 24)',
  },
  HITCH_DEVICE_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'The volume device did not appear within {timeoutMs} ms at {paths}',
  },
  HITCH_MULTIPATH_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'No multipath device appeared for WWN {wwn}, and multipath is enforced',
  },
  HITCH_DEVICE_READ_ONLY: {
    status: 500,
    fault: 'computeFault',
    message: 'Device {path} is read-only but the volume is attached with access mode rw',
  },
  HITCH_WWN_NOT_FOUND: { status: 500, fault: 'computeFault', message: 'Could not read the WWN of {path}' },
  HITCH_DISCONNECT_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Disconnect left {count} problem(s): {detail}',
  },
  HITCH_CLEANUP_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: '{count} cleanup step(s) failed: {detail}',
  },
  HITCH_UNSUPPORTED_PROTOCOL: {
    status: 400,
    fault: 'badRequest',
    message: 'Driver volume type {protocol} is not supported by this host',
  },
  // --- API / services -----------------------------------------------------------------------
  HITCH_UNAUTHORIZED: {
    status: 401,
    fault: 'unauthorized',
    message: 'The request you have made requires authentication.',
  },
  HITCH_FORBIDDEN: { status: 403, fault: 'forbidden', message: 'Policy does not allow {action} to be performed.' },
  HITCH_METHOD_NOT_ALLOWED: { status: 405, fault: 'methodNotAllowed', message: 'The method {method} is not allowed for this resource; allowed: {allowed}.' },
  HITCH_NOT_FOUND: { status: 404, fault: 'itemNotFound', message: '{kind} {id} could not be found.' },
  HITCH_CONFLICT: { status: 409, fault: 'conflictingRequest', message: '{reason}' },
  HITCH_BODY_TOO_LARGE: {
    status: 413,
    fault: 'requestEntityTooLarge',
    message: 'Request is too large (limit {limit} bytes).',
  },
  HITCH_RATE_LIMITED: { status: 429, fault: 'overLimit', message: 'Too many requests; retry after {retryAfter} s' },
  HITCH_BAD_MICROVERSION: {
    status: 406,
    fault: 'badRequest',
    message: 'Version {version} is not supported by the API. Minimum is {min} and maximum is {max}.',
  },
  HITCH_UPSTREAM_ERROR: {
    status: 502,
    fault: 'computeFault',
    message: '{service} answered {status} to {method} {path}: {detail}',
  },
  HITCH_UPSTREAM_UNAVAILABLE: {
    status: 503,
    fault: 'serviceUnavailable',
    message: '{service} is unavailable: {detail}',
  },
  HITCH_HYPERVISOR_ERROR: { status: 500, fault: 'computeFault', message: 'Hypervisor error: {detail}' },
  HITCH_HYPERVISOR_DOMAIN_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: "Hypervisor error: failed to get domain '{domain}'",
  },
  HITCH_HYPERVISOR_DETACH_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'The guest did not release disk {target} of domain {domain} within {timeoutMs} ms',
  },
  // --- block storage / identity API (Cinder's and Keystone's own statuses) -----------------
  HITCH_API_VERSION_NOT_ACCEPTABLE: {
    status: 406,
    fault: 'computeFault',
    message: 'Version {version} is not supported by the API. Minimum is {min} and maximum is {max}.',
  },
  HITCH_INVALID_VOLUME: { status: 400, fault: 'badRequest', message: 'Invalid volume: {reason}' },
  HITCH_INVALID_INPUT: { status: 400, fault: 'badRequest', message: 'Invalid input received: {reason}' },
  HITCH_UNSUPPORTED_MEDIA_TYPE: { status: 415, fault: 'badMediaType', message: 'Unsupported Content-Type' },
  HITCH_VOLUME_STATUS_CONFLICT: {
    status: 409,
    fault: 'conflictingRequest',
    message: 'Invalid volume: Volume {id} status must be {expected}, but the status is {current}.',
  },
  // --- compute -----------------------------------------------------------------------------
  HITCH_DEVICE_IN_USE: {
    status: 400,
    fault: 'badRequest',
    message: 'The supplied device path ({device}) is in use, or volume {volume} is already attached here.',
  },
  HITCH_INVALID_DEVICE_NAME: {
    status: 400,
    fault: 'badRequest',
    message: 'The supplied device path ({device}) is invalid.',
  },
  HITCH_NO_FREE_DEVICE: { status: 400, fault: 'badRequest', message: 'No free disk device names for prefix {prefix}' },
  HITCH_INSTANCE_INVALID_STATE: {
    status: 409,
    fault: 'conflictingRequest',
    message: "Cannot '{action}' instance {id} while it is in {state}",
  },
  HITCH_VOLUME_NOT_ATTACHED: {
    status: 404,
    fault: 'itemNotFound',
    message: 'Volume {volume} is not attached to server {server}.',
  },
  HITCH_COMPUTE_HOST_DOWN: {
    status: 409,
    fault: 'conflictingRequest',
    message: 'Compute host {host} is not available',
  },
  HITCH_INTERNAL: { status: 500, fault: 'computeFault', message: 'Unexpected error: {detail}' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

function render(template: string, details: ErrorDetails): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = details[name];
    return v === undefined ? whole : String(v);
  });
}

/** The one error type Hitch throws. `details` must never hold secrets. */
export class HitchError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly status: number;
  readonly fault: OpenStackFault;

  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown; message?: string }) {
    const entry: CatalogEntry = ERROR_CATALOG[code];
    super(options?.message ?? render(entry.message, details), options?.cause ? { cause: options.cause } : undefined);
    this.name = 'HitchError';
    this.code = code;
    this.details = details;
    this.status = entry.status;
    this.fault = entry.fault;
  }

  /** The OpenStack error body: `{"itemNotFound": {"message": "...", "code": 404}}`. */
  toOpenStackBody(): Record<string, { message: string; code: number }> {
    return { [this.fault]: { message: this.message, code: this.status } };
  }
}

export function isHitchError(e: unknown, code?: ErrorCode): e is HitchError {
  return e instanceof HitchError && (code === undefined || e.code === code);
}

/** Wrap anything thrown into a HitchError, keeping HitchErrors as they are. */
export function toHitchError(e: unknown): HitchError {
  if (e instanceof HitchError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new HitchError('HITCH_INTERNAL', { detail }, { cause: e });
}
