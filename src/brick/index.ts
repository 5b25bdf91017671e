/**
 * Brick: Hitch's host-side storage initiator library (os-brick's job), on the Host port only.
 *
 * What the compute service uses, once per compute host:
 * ```ts
 * const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
 * const connector = await brick.connectorProperties(span);       // seed step 4
 * const device = await brick.connectVolume(span, connectionInfo);  // step 6: { driver_volume_type, data }
 * await brick.disconnectVolume(span, connectionInfo, { force: false, ignoreErrors: false });
 * ```
 * One `Brick` per host: it owns the per-target locks and the record of which LUNs are in use.
 */
import type { Host } from '../ports/host.ts';
import { HitchError } from '../errors.ts';
import type { Span } from '../trace/span.ts';
import { getConnectorProperties, type ConnectorProperties } from './connector-properties.ts';
import { IscsiConnector, type DeviceInfo, type DisconnectOptions, type IscsiTimeouts, type ReapReport, type TargetRef } from './connectors/iscsi.ts';
import { connectQemuNative, type NetworkDiskSource } from './connectors/qemu-native.ts';
import type { BrickLogger } from './log.ts';
import { parseIscsiConnectionInfo } from './connection-info.ts';

export { parseIscsiConnectionInfo, type IscsiConnectionInfo, type IscsiTarget } from './connection-info.ts';
export { getConnectorProperties, type ConnectorProperties, type ConnectorPropertiesOptions } from './connector-properties.ts';
export { IscsiConnector, DEFAULT_ISCSI_TIMEOUTS, type DeviceInfo, type DisconnectOptions, type IscsiTimeouts, type ReapReport, type TargetRef } from './connectors/iscsi.ts';
export { connectQemuNative, chapSecretUsage, type NetworkDiskSource, type QemuNativeOptions } from './connectors/qemu-native.ts';
export { KeyedLocks } from './locks.ts';
export type { BrickLogger, LogLine } from './log.ts';

export type AttachMode = 'kernel' | 'qemu-native';

export interface BrickOptions {
  readonly host: Host;
  /** Nova's `my_ip`: the address reported to the storage. */
  readonly ip: string;
  /** Nova's `volume_use_multipath`. */
  readonly multipath: boolean;
  readonly enforceMultipath?: boolean;
  /** `kernel` (open-iscsi, host block device) or `qemu-native` (libvirt network disk). */
  readonly mode?: AttachMode;
  readonly logger?: BrickLogger;
  readonly timeouts?: Partial<IscsiTimeouts>;
  /** open-iscsi's node record directory (default `/etc/iscsi/nodes`; see `IscsiConnectorOptions`). */
  readonly iscsiNodesDir?: string;
  /**
   * How long connector properties are reused, on the host's clock (default
   * `CONNECTOR_PROPERTIES_TTL_MS`; 0 reads them every time, as os-brick does).
   */
  readonly connectorPropertiesTtlMs?: number;
  /**
   * Write open-iscsi node records as files rather than with `iscsiadm -o new/update` (default
   * false: on a real host a record file written during another `iscsiadm --login` breaks that
   * login; see `IscsiConnectorOptions.nodeRecordFiles` and src/brick/README.md).
   */
  readonly nodeRecordFiles?: boolean;
}

/**
 * Connector properties are reused for a minute. Reading them costs two processes
 * (`multipathd show status`, `systool -c fc_host -v`) and a file read, and Nova asks for them
 * on every attach and detach; what they describe — the initiator name, the FC ports, whether
 * multipathd runs — changes when an operator reconfigures the host, not between two attaches.
 * Within the minute a change is seen late: an attach reports the old values (an export to an
 * old initiator name fails its login, a stopped multipathd leaves the volume on one path, as
 * when the map cannot be built). A connect that fails drops the cached values, so the retry
 * reads the host afresh.
 */
export const CONNECTOR_PROPERTIES_TTL_MS = 60_000;

/** The `connection_info` envelope Cinder returns. */
export interface ConnectionInfoEnvelope {
  readonly driver_volume_type: string;
  readonly data: unknown;
}

export type AttachedDevice = DeviceInfo | NetworkDiskSource;

function iscsiData(connectionInfo: unknown): unknown {
  if (typeof connectionInfo !== 'object' || connectionInfo === null) {
    throw new HitchError('HITCH_INVALID_CONNECTION_INFO', { field: 'connection_info', reason: 'must be an object' });
  }
  const ci = connectionInfo as Partial<ConnectionInfoEnvelope>;
  if (ci.driver_volume_type !== 'iscsi') {
    throw new HitchError('HITCH_UNSUPPORTED_PROTOCOL', { protocol: String(ci.driver_volume_type).slice(0, 40) });
  }
  return ci.data;
}

export class Brick {
  readonly #opts: BrickOptions;
  #props: ConnectorProperties | null = null;
  /** Host-clock time `#props` were read; null: read them again on the next call. */
  #propsAt: number | null = null;
  #iscsi: IscsiConnector | null = null;

  constructor(opts: BrickOptions) {
    this.#opts = opts;
  }

  /**
   * Seed step 4. Reused for `connectorPropertiesTtlMs` (see `CONNECTOR_PROPERTIES_TTL_MS`);
   * the first call also decides, for the connector's life, whether multipath is usable.
   *
   * In QEMU-native mode "multipath" means "QEMU may use any portal", not a device-mapper map:
   * the storage must list every portal whether or not multipathd runs (it cannot, on a host
   * without device-mapper), so the property is true there. In kernel mode multipathd decides.
   */
  async connectorProperties(span: Span): Promise<ConnectorProperties> {
    const { host, ip, multipath, enforceMultipath, logger } = this.#opts;
    const ttl = this.#opts.connectorPropertiesTtlMs ?? CONNECTOR_PROPERTIES_TTL_MS;
    const now = host.clock.now();
    if (this.#props && this.#propsAt !== null && now - this.#propsAt < ttl) {
      span.event('get_connector_properties', { host: host.name, cached: true, age_ms: now - this.#propsAt });
      return this.#props;
    }
    const props = await getConnectorProperties(host, span, {
      ip,
      multipath,
      ...(enforceMultipath !== undefined ? { enforceMultipath } : {}),
      ...(logger ? { logger } : {}),
    });
    this.#props = this.#opts.mode === 'qemu-native' ? { ...props, multipath: true } : props;
    this.#propsAt = now;
    return this.#props;
  }

  async #connector(span: Span): Promise<IscsiConnector> {
    if (this.#iscsi) return this.#iscsi;
    const props = this.#props ?? (await this.connectorProperties(span));
    this.#iscsi ??= new IscsiConnector({
      host: this.#opts.host,
      multipath: props.multipath,
      enforceMultipath: this.#opts.enforceMultipath ?? false,
      ...(this.#opts.logger ? { logger: this.#opts.logger } : {}),
      ...(this.#opts.timeouts ? { timeouts: this.#opts.timeouts } : {}),
      ...(this.#opts.iscsiNodesDir ? { iscsiNodesDir: this.#opts.iscsiNodesDir } : {}),
      nodeRecordFiles: this.#opts.nodeRecordFiles ?? false,
    });
    return this.#iscsi;
  }

  /** Seed step 6: connect `{ driver_volume_type: 'iscsi', data }`. */
  async connectVolume(span: Span, connectionInfo: unknown): Promise<AttachedDevice> {
    // Validate before anything touches the host (even the connector-properties probe).
    const data = parseIscsiConnectionInfo(iscsiData(connectionInfo));
    try {
      if (this.#opts.mode === 'qemu-native') {
        const props = this.#props ?? (await this.connectorProperties(span));
        return await connectQemuNative(span, data, {
          host: this.#opts.host,
          initiator: props.initiator ?? '',
          ...(this.#opts.logger ? { logger: this.#opts.logger } : {}),
        });
      }
      return await (await this.#connector(span)).connectValidated(span, data);
    } catch (e) {
      // The host may not be what the cached properties say: read it again next time.
      this.#propsAt = null;
      throw e;
    }
  }

  /** The reverse of `connectVolume`. QEMU-native attachments hold nothing on the host. */
  async disconnectVolume(span: Span, connectionInfo: unknown, opts: DisconnectOptions = {}): Promise<void> {
    const data = parseIscsiConnectionInfo(iscsiData(connectionInfo));
    if (this.#opts.mode === 'qemu-native') return;
    await (await this.#connector(span)).disconnectValidated(span, data, opts);
  }

  /**
   * The safety net under every cleanup: remove node records, sessions, disks and maps that this
   * Brick left on the host for targets no attachment needs. `keep` gives the `connection_info`
   * of every mapping on this host (attached or in flight) and is asked for only when there is
   * something to reap; `adopt` names `connection_info`s to take ownership of first (what crash
   * recovery found in the journal: a new process knows nothing of what the last one left).
   * Entries that do not parse are skipped — nothing was ever connected from them.
   */
  async reap(span: Span, opts: { keep: () => Promise<readonly unknown[]>; adopt?: readonly unknown[] }): Promise<ReapReport> {
    if (this.#opts.mode === 'qemu-native') return { reaped: [], failures: [], kept: [] };
    const targets = (cis: readonly unknown[]): TargetRef[] =>
      cis.flatMap((ci) => {
        try {
          return parseIscsiConnectionInfo(iscsiData(ci)).targets;
        } catch {
          return [];
        }
      });
    const adopt = targets(opts.adopt ?? []);
    // Nothing to adopt and no connector yet: this Brick never touched the host.
    if (!this.#iscsi && adopt.length === 0) return { reaped: [], failures: [], kept: [] };
    return (await this.#connector(span)).reap(span, { keep: async () => targets(await opts.keep()), adopt });
  }

  /** Resolves when background portal work (late logins joining maps, failed portals' cleanup) is done. */
  async settled(): Promise<void> {
    await this.#iscsi?.settled();
  }
}
