/**
 * Connector properties (seed step 4): what this host tells the block storage service in
 * `os-initialize_connection`, with os-brick's keys and types, e.g.
 * `{"platform": "x86_64", "host": "newton", "do_local_attach": false, "ip": "172.16.1.11",
 *   "os_type": "linux", "multipath": true, "initiator": "iqn.1993-08.org.debian:01:7cc8838d1c0"}`.
 */
import type { Host } from '../ports/host.ts';
import { HitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';
import { emitLog, type BrickLogger } from './log.ts';
import { parseHostNqn, parseInitiatorName } from './parsers/initiator-name.ts';
import { parseSystoolFcHosts, stripHexPrefix, systoolSaysNoFc } from './parsers/systool-fc.ts';
import { multipathdStatus } from './tools/multipath.ts';
import { run, type BrickContext } from './tools/run.ts';

export interface ConnectorProperties {
  readonly platform: string;
  readonly os_type: string;
  readonly ip: string;
  readonly host: string;
  readonly multipath: boolean;
  readonly enforce_multipath: boolean;
  readonly initiator?: string;
  readonly wwpns?: readonly string[];
  readonly wwnns?: readonly string[];
  readonly nqn?: string;
  readonly do_local_attach: false;
}

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
    // Both identity files in one Host call; either may be missing.
    const [initiatorText = null, nqnText = null] = await s.run('read initiator name and host nqn', { paths: `${INITIATOR_FILE},${NQN_FILE}` }, () =>
      host.readFiles([INITIATOR_FILE, NQN_FILE]),
    );
    const initiator = initiatorText === null ? null : parseInitiatorName(initiatorText);
    const fc = await fcPorts(ctx);
    const nqn = nqnText === null ? null : parseHostNqn(nqnText);

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
      do_local_attach: false,
    };
    s.set({ multipath, initiator: initiator ?? null });
    emitLog(s, opts.logger, 'debug', `get_connector_properties: return ${JSON.stringify(props)}`);
    return props;
  });
}
