/**
 * The compute host's side of an attach through `brick/`: connector properties, connect and
 * disconnect, with brick's answers turned into what the hypervisor plugs.
 *
 * For a kernel-initiator connect the disk source is the stable udev link, as the seed's XML
 * shows it: `/dev/disk/by-id/dm-uuid-mpath-<WWN>` for a multipath map, the `by-path` link of
 * the first live path otherwise — a `/dev/sdX` name can change across rescans, the links cannot.
 */
import type { Brick } from '../brick/index.ts';
import { parseIscsiConnectionInfo, byPathLink } from '../brick/connection-info.ts';
import type { Host } from '../ports/host.ts';
import type { Span } from '../trace/span.ts';
import type { DiskSource } from '../ports/hypervisor.ts';
import type { AttachedDevice, ConnectionInfo, ConnectorProperties, HostVolumeConnector, ReapOutcome } from '../ports/block-storage.ts';

export class BrickVolumeConnector implements HostVolumeConnector {
  readonly #brick: Brick;
  readonly #host: Host;

  constructor(brick: Brick, host: Host) {
    this.#brick = brick;
    this.#host = host;
  }

  async connectorProperties(span: Span): Promise<ConnectorProperties> {
    return (await this.#brick.connectorProperties(span)) as unknown as ConnectorProperties;
  }

  async connect(info: ConnectionInfo, span: Span): Promise<AttachedDevice> {
    const d = await this.#brick.connectVolume(span, info);
    if (d.type === 'network') {
      const ci = parseIscsiConnectionInfo(info.data);
      const [iqn, lun] = [d.name.slice(0, d.name.lastIndexOf('/')), Number(d.name.slice(d.name.lastIndexOf('/') + 1))];
      const first = d.hosts[0] ?? { name: '127.0.0.1', port: 3260 };
      const props = await this.#brick.connectorProperties(span);
      const source: DiskSource = {
        kind: 'iscsi',
        iqn,
        lun,
        host: { name: first.name, port: first.port },
        ...(d.auth ? { auth: { username: d.auth.username, secretUsage: d.auth.secret.usage } } : {}),
        ...(props.initiator ? { initiatorIqn: props.initiator } : {}),
      };
      return {
        source,
        deviceInfo: { type: 'network', name: d.name, hosts: d.hosts.map((h) => `${h.name}:${h.port}`).join(',') },
        ...(ci.auth ? { secretValue: ci.auth.password } : {}),
      };
    }
    let path = d.path;
    if (d.multipath_id) {
      path = `/dev/disk/by-id/dm-uuid-mpath-${d.multipath_id}`;
    } else {
      const ci = parseIscsiConnectionInfo(info.data);
      for (const t of ci.targets) {
        const link = byPathLink(t);
        if ((await this.#host.exists(link)) && (await this.#host.realpath(link)) === d.path) {
          path = link;
          break;
        }
      }
    }
    return { source: { kind: 'block', path }, deviceInfo: { ...d } };
  }

  reap(span: Span, opts: { keep: () => Promise<readonly ConnectionInfo[]>; adopt?: readonly ConnectionInfo[] }): Promise<ReapOutcome> {
    return this.#brick.reap(span, opts);
  }

  async disconnect(info: ConnectionInfo, _deviceInfo: Readonly<Record<string, unknown>> | null, span: Span, opts: { force: boolean }): Promise<void> {
    await this.#brick.disconnectVolume(span, info, { force: opts.force, ignoreErrors: opts.force });
  }
}
