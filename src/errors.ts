/**
 * The one catalog of Hitch errors.
 *
 * Every error Hitch raises carries a stable `code` from this table, a clear message, and — for
 * the API edge — the HTTP status and the OpenStack fault name that Cinder/Nova would use
 * (`{"badRequest": {"message": …, "code": 400}}`). Add a code here before throwing it;
 * `src/errors.test.ts` renders every entry and holds it to the rules: it names what it is about
 * (no bare ids, no `undefined`), no boilerplate lists, and a next step.
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
  | 'badMethod';

interface CatalogEntry {
  readonly status: number;
  readonly fault: OpenStackFault;
  /**
   * What happened, naming what it happened to: `{name}` is replaced by the detail of the same
   * name. A resource is named by name and id (`{volume}` = `demo-volume (0b6b…)`, see `ref`),
   * with the state that blocks the request.
   */
  readonly message: string;
  /**
   * The next step, appended to the message: the command or check that resolves it. Left out
   * when a detail it names was not given (rather than printing a `{placeholder}`).
   */
  readonly hint: string;
}

/** The one next step for a fault inside Hitch itself (no user action fixes it). */
const BUG = 'This is a fault in Hitch: report it with the server log lines of this request (grep its request id).';

export const ERROR_CATALOG = {
  // --- input validation -------------------------------------------------------------------
  HITCH_INVALID_ARGUMENT: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid argument: {reason}',
    hint: 'Correct it and retry (`hitch COMMAND --help` lists what each command takes).',
  },
  HITCH_INVALID_CONNECTION_INFO: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid connection_info field {field}: {reason}',
    hint: "Check the block storage backend's driver: it returned this connection_info for the volume.",
  },
  // --- host port ----------------------------------------------------------------------------
  HITCH_EXEC_NOT_ALLOWED: {
    status: 500,
    fault: 'computeFault',
    message: 'Command {cmd} is not in the allowlist of binaries Hitch may run',
    hint: BUG,
  },
  HITCH_EXEC_BAD_ARGUMENT: {
    status: 500,
    fault: 'computeFault',
    message: 'Refusing to run {cmd}: argument {index} {reason}',
    hint: BUG,
  },
  HITCH_EXEC_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Command failed: {command} (exit code {exitCode}): {stderr}',
    hint: 'Check the compute host: the error output above says why; the server log has the command at debug level.',
  },
  HITCH_EXEC_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'Command timed out after {timeoutMs} ms: {command}',
    hint: 'Check the compute host: the command hung (a storage path that does not answer, a stuck daemon).',
  },
  HITCH_PATH_NOT_ALLOWED: {
    status: 500,
    fault: 'computeFault',
    message: 'Path {path} is outside the roots Hitch may touch ({roots})',
    hint: BUG,
  },
  HITCH_PATH_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'No such file or directory on the compute host: {path}',
    hint: 'Check the compute host: the kernel or udev should have created it.',
  },
  HITCH_PATH_WAIT_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'Timed out after {timeoutMs} ms waiting for {path} to {what}',
    hint: 'Check the compute host: udev and the kernel log (journalctl -k) say why it did not.',
  },
  HITCH_ABORTED: {
    status: 500,
    fault: 'computeFault',
    message: 'Operation aborted: {reason}',
    hint: 'Retry the request: nothing of it was left behind.',
  },
  // --- log import (hitch explain --log) -------------------------------------------------------
  HITCH_LOG_UNREADABLE: {
    status: 400,
    fault: 'badRequest',
    message: 'Cannot read the log {path}: {reason}',
    hint: 'Give a readable file (plain or gzip), or - to read standard input.',
  },
  HITCH_LOG_NO_MATCH: {
    status: 404,
    fault: 'itemNotFound',
    message: 'No attach or detach in {sources} matches {filter}',
    hint: 'Run `hitch explain --log FILE` without a filter to list every attach and detach the log holds.',
  },
  // --- simulator ----------------------------------------------------------------------------
  HITCH_SIM_UNKNOWN_SCENARIO: {
    status: 400,
    fault: 'badRequest',
    message: 'Unknown scenario {name}; known scenarios: {known}',
    hint: 'Use one of those (`hitch scenario list` describes them) or the path of a scenario file.',
  },
  HITCH_SIM_INVALID_SCENARIO: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid scenario: {reason}',
    hint: 'Correct the scenario file (its format: src/sim/README.md).',
  },
  HITCH_SIM_DEADLOCK: {
    status: 500,
    fault: 'computeFault',
    message: 'Simulation deadlock: tasks are waiting but no timer is pending ({detail})',
    hint: BUG,
  },
  // --- initiator (brick) --------------------------------------------------------------------
  HITCH_MULTIPATHD_DOWN: {
    status: 500,
    fault: 'computeFault',
    message: 'multipathd is not running, and multipath is enforced on this host',
    hint: 'Start multipathd on the compute host (systemctl start multipathd), then retry the attach.',
  },
  HITCH_ISCSI_LOGIN_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Could not log in to any iSCSI portal of {target}: {detail}',
    hint: 'Check the network path from the compute host to the portals and the target on the array, then retry the attach.',
  },
  HITCH_ISCSI_LOGIN_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'iSCSI login to {portal} timed out after {seconds} s (iscsiadm exit 8)',
    hint: 'Check the network path or the target at {portal}: every attach to this array will try it.',
  },
  HITCH_ISCSI_AUTH_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'iSCSI login to {portal} was refused: authentication failed (iscsiadm exit 24)',
    hint: "Check the volume's CHAP account on the array: the credentials the block storage service gave do not match it.",
  },
  HITCH_DEVICE_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'The volume device did not appear within {timeoutMs} ms at {paths}',
    hint: 'Check the compute host: the LUN scan and udev (journalctl -k, udevadm monitor) say why; the attach was rolled back.',
  },
  HITCH_MULTIPATH_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'No multipath device appeared for WWN {wwn}, and multipath is enforced',
    hint: 'Check multipathd on the compute host (multipath -ll, its blacklist and find_multipaths), then retry the attach.',
  },
  HITCH_DEVICE_READ_ONLY: {
    status: 500,
    fault: 'computeFault',
    message: 'Device {path} is read-only but the volume is attached with access mode rw',
    hint: 'Check the export on the array (a read-only LUN or snapshot), or attach the volume read-only.',
  },
  HITCH_WWN_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'Could not read the WWN of {path}',
    hint: 'Check the device on the compute host (/lib/udev/scsi_id -g -u {path}).',
  },
  HITCH_DISCONNECT_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Disconnect left {count} problem(s): {detail}',
    hint: 'Wait for the cleanup Hitch retries in the background; if it stays, remove what is listed on the compute host by hand.',
  },
  HITCH_CLEANUP_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: '{count} cleanup step(s) failed: {detail}',
    hint: 'Wait for the cleanup Hitch retries in the background; if it stays, remove what is listed by hand.',
  },
  HITCH_NVME_CONNECT_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'No NVMe/TCP controller to subsystem {nqn} came up on any portal: {detail}',
    hint: 'Check each portal from the compute host (nvme discover -t tcp -a ADDRESS -s PORT) and that the subsystem allows host NQN {hostNqn}, then retry the attach.',
  },
  HITCH_NVME_NAMESPACE_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: 'Subsystem {nqn} is connected but namespace {namespace} did not appear within {timeoutMs} ms',
    hint: 'Check that the array exports that namespace in {nqn} (nvme list-subsys -o json; journalctl -k); the attach was rolled back.',
  },
  HITCH_NVME_NO_HOST_NQN: {
    status: 500,
    fault: 'computeFault',
    message: 'This compute host has no NVMe host NQN (/etc/nvme/hostnqn), and the connection for subsystem {nqn} names none',
    hint: 'Create one on the compute host (nvme gen-hostnqn > /etc/nvme/hostnqn), have the array allow it, then retry the attach.',
  },
  HITCH_NVME_QEMU_NATIVE: {
    status: 400,
    fault: 'badRequest',
    message: 'NVMe/TCP volume (subsystem {nqn}) cannot be attached in QEMU-native mode: QEMU has no NVMe/TCP initiator',
    hint: "Attach NVMe/TCP volumes from a compute host in kernel mode (attachMode 'kernel'), or use an iSCSI volume type here.",
  },
  HITCH_UNSUPPORTED_PROTOCOL: {
    status: 400,
    fault: 'badRequest',
    message: 'Driver volume type {protocol} is not supported by this host',
    hint: 'Use a volume of a backend that exports iSCSI to this host.',
  },
  // --- API / services -----------------------------------------------------------------------
  HITCH_UNAUTHORIZED: {
    status: 401,
    fault: 'unauthorized',
    message: 'The request you have made requires authentication.',
    hint: 'Log in again: the token is missing, invalid or expired.',
  },
  HITCH_BAD_CREDENTIALS: {
    status: 401,
    fault: 'unauthorized',
    message: 'The user name or password is wrong.',
    hint: 'Check the user and password (OS_USERNAME and OS_PASSWORD, the clouds.yaml entry, or the data directory\'s credentials.json).',
  },
  HITCH_FORBIDDEN: {
    status: 403,
    fault: 'forbidden',
    message: 'Policy does not allow {action} to be performed.',
    hint: 'Use a token of a user with the role it needs (admin: `hitch --as admin …`, or --os-cloud hitch-admin).',
  },
  HITCH_METHOD_NOT_ALLOWED: {
    status: 405,
    fault: 'badMethod',
    message: 'The method {method} is not allowed for this resource; allowed: {allowed}.',
    hint: 'Use one of those methods.',
  },
  HITCH_NOT_FOUND: {
    status: 404,
    fault: 'itemNotFound',
    message: '{kind} {id} could not be found.',
    hint: 'Check the name or id: `hitch volume list` and `hitch server list` show what the project has.',
  },
  HITCH_CONFLICT: { status: 409, fault: 'conflictingRequest', message: '{reason}', hint: '{next}' },
  HITCH_BODY_TOO_LARGE: {
    status: 413,
    fault: 'requestEntityTooLarge',
    message: 'Request is too large (limit {limit} bytes).',
    hint: 'Send a smaller body.',
  },
  HITCH_RATE_LIMITED: {
    status: 429,
    fault: 'overLimit',
    message: 'Too many requests; retry after {retryAfter} s',
    hint: 'Wait that long, then retry.',
  },
  HITCH_UPSTREAM_ERROR: {
    status: 502,
    fault: 'computeFault',
    message: '{service} answered {status} to {method} {path}: {detail}',
    hint: "Check that service's log for this request.",
  },
  HITCH_UPSTREAM_UNAVAILABLE: {
    status: 503,
    fault: 'serviceUnavailable',
    message: '{service} is unavailable: {detail}',
    hint: 'Check that it runs and answers ({next}).',
  },
  HITCH_SHUTTING_DOWN: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'This Hitch process is stopping and takes no new requests',
    hint: 'Retry in a moment: against another API process, or this one once it has restarted.',
  },
  HITCH_DATABASE_BUSY: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'The database is locked by another process; gave up after {waitedMs} ms',
    hint: 'Retry in a moment; if it lasts, find what holds the SQLite database open in a write transaction (a backup, a sqlite3 shell) and end it.',
  },
  HITCH_DATABASE_WRITE_FAILED: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'The database could not write: {detail}',
    hint: 'Check the free space and health of the disk that holds the database, then retry: this request changed nothing.',
  },
  HITCH_DATABASE_UNREACHABLE: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'Cannot reach PostgreSQL at {where}: {detail}',
    hint: "Start PostgreSQL there (or correct --database-url); on a new server, create Hitch's role and database once: hitch db init --database-url {url}",
  },
  HITCH_DATABASE_POOL_TIMEOUT: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'No PostgreSQL connection came free within {waitedMs} ms: all {poolSize} of this process are in use',
    hint: 'Retry in a moment; if it lasts, look in pg_stat_activity for long transactions, or give the process a larger pool (databasePoolSize) or more API processes.',
  },
  HITCH_DATABASE_UNUSABLE: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'The database {path} cannot be used: {reason}',
    hint: '{next}',
  },
  HITCH_SECRET_UNREADABLE: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'A sealed secret in the database (CHAP credentials) does not open with this process\'s key',
    hint: 'Give every Hitch process on this database the key that sealed it: the same secretKey (HITCH_SECRET_KEY), or the data dir\'s secret.key from the first start.',
  },
  HITCH_DATA_DIR_UNUSABLE: {
    status: 400,
    fault: 'badRequest',
    message: 'The data directory {path} cannot be used: {reason}',
    hint: 'Give --data-dir (or HITCH_DATA_DIR) a directory this user may create and write, on a writable file system.',
  },
  HITCH_DATABASE_NOT_SET_UP: {
    status: 503,
    fault: 'serviceUnavailable',
    message: 'PostgreSQL at {where} refused role {role} on database {database}: {detail}',
    hint: 'Create them once, as a PostgreSQL superuser: hitch db init --database-url {url} (--admin-url for the superuser; --print-sql for the SQL to run yourself).',
  },
  HITCH_VOLUME_EXTEND_FAILED: {
    status: 500,
    fault: 'computeFault',
    message: 'Extending volume {volume} on this host failed at {step}: {detail}',
    hint: "See the server's events (openstack server event list SERVER) for the trace; fix what it names, then reset the volume (openstack volume set --state in-use VOLUME) and extend it again.",
  },
  HITCH_HYPERVISOR_ERROR: {
    status: 500,
    fault: 'computeFault',
    message: 'Hypervisor error: {detail}',
    hint: "Check libvirt on the compute host (virsh, and libvirtd's log).",
  },
  HITCH_HYPERVISOR_DOMAIN_NOT_FOUND: {
    status: 500,
    fault: 'computeFault',
    message: "Hypervisor error: failed to get domain '{domain}'",
    hint: 'Check the server on the compute host (virsh list --all): its domain is gone.',
  },
  HITCH_HYPERVISOR_DETACH_TIMEOUT: {
    status: 500,
    fault: 'computeFault',
    message: 'The guest did not release disk {target} of domain {domain} within {timeoutMs} ms',
    hint: 'Check that the disk is not in use inside the guest (mounted, held by a process), then retry the detach; detachTimeoutMs sets the wait.',
  },
  // --- block storage / identity API (Cinder's and Keystone's own statuses) -----------------
  HITCH_API_VERSION_NOT_ACCEPTABLE: {
    status: 406,
    fault: 'computeFault',
    message: 'Version {version} is not supported by the API. Minimum is {min} and maximum is {max}.',
    hint: 'Ask for a version in that range (OpenStack-API-Version, --os-volume-api-version).',
  },
  HITCH_INVALID_VOLUME: { status: 400, fault: 'badRequest', message: 'Invalid volume: {reason}', hint: '{next}' },
  HITCH_INVALID_INPUT: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid input received: {reason}',
    hint: 'Correct the request body and retry.',
  },
  HITCH_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    fault: 'badMediaType',
    message: 'Unsupported Content-Type',
    hint: 'Send JSON (Content-Type: application/json).',
  },
  HITCH_VOLUME_STATUS_CONFLICT: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid volume: Volume {volume} status must be {expected}, but the status is {current}.',
    hint: '{next}',
  },
  HITCH_INVALID_SNAPSHOT: {
    status: 400,
    fault: 'badRequest',
    message: 'Invalid snapshot: {reason}',
    hint: 'Check its status with `openstack volume snapshot show`: it must be available.',
  },
  HITCH_OVER_QUOTA: {
    status: 413,
    fault: 'overLimit',
    message: '{reason}',
    hint: 'Delete what the project no longer needs, or ask an admin to raise the limit: `openstack quota show --usage` shows the limits and what is used.',
  },
  HITCH_VOLUME_TOO_LARGE: {
    status: 413,
    fault: 'overLimit',
    message: 'Requested volume size {size}G is larger than maximum allowed limit {max}G.',
    hint: "Ask for {max} GiB or less (the server's maxVolumeSizeGiB setting).",
  },
  // --- compute -----------------------------------------------------------------------------
  HITCH_DEVICE_IN_USE: {
    status: 400,
    fault: 'badRequest',
    message: 'The supplied device path ({device}) is in use, or volume {volume} is already attached here.',
    hint: 'Leave --device out (Hitch picks the next free name), or see `hitch attachments SERVER`.',
  },
  HITCH_INVALID_DEVICE_NAME: {
    status: 400,
    fault: 'badRequest',
    message: 'The supplied device path ({device}) is invalid.',
    hint: 'Give a name like /dev/vdc, or leave --device out.',
  },
  HITCH_NO_FREE_DEVICE: {
    status: 400,
    fault: 'badRequest',
    message: 'No free disk device names for prefix {prefix}',
    hint: 'Detach a volume from the server first (`hitch attachments SERVER` lists them).',
  },
  HITCH_INSTANCE_INVALID_STATE: {
    status: 409,
    fault: 'conflictingRequest',
    message: "Cannot '{action}' instance {server} while it is in {state}",
    hint: 'Wait until the server is ACTIVE (hitch server show {serverArg}), then retry.',
  },
  HITCH_VOLUME_NOT_ATTACHED: {
    status: 404,
    fault: 'itemNotFound',
    message: 'Volume {volume} is not attached to server {server}.',
    hint: 'See what is attached there: hitch attachments {serverArg}',
  },
  HITCH_COMPUTE_QUOTA_EXCEEDED: {
    status: 403,
    fault: 'forbidden',
    message: '{reason}',
    hint: 'Delete servers the project no longer needs, or ask an admin to raise its quota (openstack quota set --instances N PROJECT).',
  },
  HITCH_COMPUTE_HOST_DOWN: {
    status: 409,
    fault: 'conflictingRequest',
    message: 'Compute host {host} is not available',
    hint: 'Start its agent (hitch agent --host {host}) and retry.',
  },
  HITCH_QUEUE_TASK_MALFORMED: {
    status: 500,
    fault: 'computeFault',
    message: 'Compute task {task} in the scale-out queue cannot be read: {detail}',
    hint: 'Run the same Hitch version in every API and agent process (hitch --version), then retry the request; hitch operations list shows what the task did.',
  },
  HITCH_INTERNAL: { status: 500, fault: 'computeFault', message: 'Unexpected error: {detail}', hint: BUG },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

function render(template: string, details: ErrorDetails): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = details[name];
    return v === undefined ? whole : String(v);
  });
}

/** The hint with its details, or null when one it names was not given. */
function renderHint(template: string, details: ErrorDetails): string | null {
  const text = render(template, details);
  return /\{\w+\}/.test(text) || text.trim() === '' ? null : text;
}

/**
 * The text of a catalog entry for `details`: the message, then the next step (when its details
 * were given).
 */
export function renderCatalog(code: ErrorCode, details: ErrorDetails): string {
  const { summary, hint } = renderParts(code, details);
  return hint === null ? summary : `${summary}${/[.!?]$/.test(summary) ? '' : '.'} ${hint}`;
}

function renderParts(code: ErrorCode, details: ErrorDetails): { summary: string; hint: string | null } {
  const entry: CatalogEntry = ERROR_CATALOG[code];
  return { summary: render(entry.message, details), hint: renderHint(entry.hint, details) };
}

/**
 * A resource as messages name it: `demo-volume (0b6b3c9e-…)`, by name and id, or
 * `unnamed (0b6b3c9e-…)` when it has no name.
 */
export function ref(r: { readonly name?: string | null; readonly id: string }): string {
  return `${r.name ? r.name : 'unnamed'} (${r.id})`;
}

/** The one error type Hitch throws. `details` must never hold secrets. */
export class HitchError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly status: number;
  readonly fault: OpenStackFault;
  /** What happened, without the next step (the whole text when it was passed on as it is). */
  readonly summary: string;
  /** The next step, or null. */
  readonly hint: string | null;

  /**
   * `options.message` replaces the whole text (message and next step): for an error passed on
   * from another process, whose text was rendered there.
   */
  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown; message?: string }) {
    const entry: CatalogEntry = ERROR_CATALOG[code];
    super(options?.message ?? renderCatalog(code, details), options?.cause ? { cause: options.cause } : undefined);
    const parts = options?.message === undefined ? renderParts(code, details) : { summary: options.message, hint: null };
    this.summary = parts.summary;
    this.hint = parts.hint;
    this.name = 'HitchError';
    this.code = code;
    this.details = details;
    this.status = entry.status;
    this.fault = entry.fault;
  }

  /**
   * The OpenStack error body: `{"itemNotFound": {"message": "...", "code": 404}}`; a 413 and a
   * 429 (`overLimit`) say when to retry (`retryAfter`), as Cinder's and Nova's faults do.
   */
  toOpenStackBody(): Record<string, { message: string; code: number; retryAfter?: string }> {
    const retry = (this.status === 413 || this.status === 429) && this.details['retryAfter'] !== undefined ? { retryAfter: String(this.details['retryAfter']) } : {};
    return { [this.fault]: { message: this.message, code: this.status, ...retry } };
  }
}

export function isHitchError(e: unknown, code?: ErrorCode): e is HitchError {
  return e instanceof HitchError && (code === undefined || e.code === code);
}

/** Wrap anything thrown into a HitchError, keeping HitchErrors as they are. */
export function toHitchError(e: unknown): HitchError {
  if (e instanceof HitchError) return e;
  // A lock met outside the busy retry (src/db/busy.ts) is still the machine's, not a bug.
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return new HitchError('HITCH_DATABASE_BUSY', { waitedMs: 0, retryAfter: 1 }, { cause: e });
  const detail = e instanceof Error ? e.message : String(e);
  return new HitchError('HITCH_INTERNAL', { detail }, { cause: e });
}
