/**
 * Connector properties (seed step 4): what this host tells the block storage service in
 * `os-initialize_connection`, with os-brick's keys and types, e.g.
 * `{"platform": "x86_64", "host": "newton", "do_local_attach": false, "ip": "172.16.1.11",
 *   "os_type": "linux", "multipath": true, "initiator": "iqn.1993-08.org.debian:01:7cc8838d1c0"}`.
 */
import type { ConnectorProperties } from '../ports/attach.ts';
import type { Host } from '../ports/host.ts';
import { HitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';
import { emitLog, type BrickLogger } from './log.ts';
import { parseHostNqn, parseInitiatorName } from './parsers/initiator-name.ts';
import { parseSystoolFcHosts, stripHexPrefix, systoolSaysNoFc } from './parsers/systool-fc.ts';
import { multipathdStatus } from './tools/multipath.ts';
import { run, type BrickContext } from './tools/run.ts';

export interface ConnectorPropertiesOptions {
  /** The address the storage should export to (Nova's `my_ip`). */
  readonly ip: string;
  /** Use multipath when multipathd runs (Nova's `volume_use_multipath`). */
  readonly multipath: boolean;
  /** Refuse to run without multipathd (os-brick's `enforce_multipath`). */
  readonly enforceMultipath?: boolean;
  /** `platform.machine()`; default `x86_64`. */
  readonly platform?: string;
  readonly logger?: BrickLogger;
}

const INITIATOR_FILE = '/etc/iscsi/initiatorname.iscsi';
const NQN_FILE = '/etc/nvme/hostnqn';
const HOSTID_FILE = '/etc/nvme/hostid';
/** `Y`/`N` when nvme_core is loaded; absent on a host without NVMe. */
const NATIVE_MULTIPATH_PARAM = '/sys/module/nvme_core/parameters/multipath';
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function fcPorts(ctx: BrickContext): Promise<{ wwpns: string[]; wwnns: string[] }> {
  const r = await run(ctx, 'systool', ['-c', 'fc_host', '-v'], { okCodes: 'any', timeoutMs: 30_000 });
  if (r.code !== 0 || systoolSaysNoFc(r.stdout + r.stderr)) return { wwpns: [], wwnns: [] };
  // Only ports that are Online can reach a fabric; os-brick reports the same subset.
  const online = parseSystoolFcHosts(r.stdout).filter((h) => h.portState === 'Online');
  return { wwpns: online.map((h) => stripHexPrefix(h.portName)), wwnns: online.map((h) => stripHexPrefix(h.nodeName)) };
}

/**
 * Gather this host's connector properties. Throws `HITCH_MULTIPATHD_DOWN` when multipath is
 * enforced and multipathd is not running.
 */
export async function getConnectorProperties(host: Host, span: Span, opts: ConnectorPropertiesOptions): Promise<ConnectorProperties> {
  return span.run('get_connector_properties', { host: host.name }, async (s) => {
    const ctx: BrickContext = { host, span: s, ...(opts.logger ? { logger: opts.logger } : {}) };
    const enforce = opts.enforceMultipath ?? false;
    let multipath = false;
    if (opts.multipath || enforce) {
      const status = await multipathdStatus(ctx);
      if (status === null && enforce) throw new HitchError('HITCH_MULTIPATHD_DOWN');
      if (status === null) emitLog(s, opts.logger, 'warning', 'multipathd is not running; connecting volumes without multipath');
      multipath = status !== null;
    }
    // Every identity file in one Host call; any may be missing.
    const files = [INITIATOR_FILE, NQN_FILE, HOSTID_FILE, NATIVE_MULTIPATH_PARAM];
    const [initiatorText = null, nqnText = null, hostidText = null, nativeText = null] = await s.run('read initiator name and host nqn', { paths: files.join(',') }, () =>
      host.readFiles(files),
    );
    const initiator = initiatorText === null ? null : parseInitiatorName(initiatorText);
    const fc = await fcPorts(ctx);
    const nqn = nqnText === null ? null : parseHostNqn(nqnText);
    const hostid = hostidText?.trim() ?? '';
    const native = nativeText === null ? null : nativeText.trim() === 'Y';

    const props: ConnectorProperties = {
      platform: opts.platform ?? 'x86_64',
      os_type: 'linux',
      ip: opts.ip,
      host: host.name,
      multipath,
      enforce_multipath: enforce,
      ...(initiator ? { initiator } : {}),
      ...(fc.wwpns.length ? { wwpns: fc.wwpns, wwnns: fc.wwnns } : {}),
      ...(nqn ? { nqn } : {}),
      ...(UUID_TEXT.test(hostid) ? { uuid: hostid.toLowerCase() } : {}),
      ...(native !== null ? { nvme_native_multipath: native } : {}),
      do_local_attach: false,
    };
    s.set({ multipath, initiator: initiator ?? null });
    emitLog(s, opts.logger, 'debug', `get_connector_properties: return ${JSON.stringify(props)}`);
    return props;
  });
}
