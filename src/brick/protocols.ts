/**
 * Brick's protocol table: for each `driver_volume_type`, how its `connection_info` is checked
 * where JSON enters, how its CHAP secret is named on an instance, and which connector serves
 * it in each attach mode. `Brick` reads nothing else to choose a connector.
 *
 * Adding a protocol (NVMe/TCP, say) is one entry of `ConnectionInfos` in `ports/attach.ts`,
 * one connector file implementing `ProtocolConnector` in `connectors/`, and one entry here; the
 * mapped type below fails to compile until the entry exists.
 */
import { HitchError } from '../errors.ts';
import type { ConnectionInfo, ConnectionInfos, Protocol } from '../ports/attach.ts';
import { parseIscsiData } from './connection-info.ts';
import type { AttachMode, ConnectorDeps, ProtocolConnector } from './connector.ts';
import { KernelIscsiConnector } from './connectors/iscsi-kernel.ts';
import { QemuNativeIscsiConnector, chapSecretUsage } from './connectors/qemu-native.ts';
import { NvmeTcpConnector } from './connectors/nvme-tcp.ts';
import { NvmeQemuNativeRefusal } from './connectors/nvme-qemu-native.ts';
import { parseNvmeofData } from './nvmeof-connection-info.ts';

export interface ProtocolEntry<P extends Protocol> {
  /** Check the `data` of a `connection_info` of this protocol (`HITCH_INVALID_CONNECTION_INFO` naming the field). */
  readonly parseData: (data: unknown) => ConnectionInfos[P]['data'];
  /** The hypervisor secret holding this connection's credentials on `instance`, if it has any. */
  readonly secretUsage: (info: ConnectionInfos[P], instance: string) => string | null;
  /** The connector for each attach mode this protocol supports. */
  readonly connectors: { readonly [M in AttachMode]?: (deps: ConnectorDeps) => ProtocolConnector<ConnectionInfos[P]> };
}

export const PROTOCOLS: { readonly [P in Protocol]: ProtocolEntry<P> } = {
  iscsi: {
    parseData: parseIscsiData,
    secretUsage: (info, instance) => chapSecretUsage(info.data, instance),
    connectors: {
      kernel: (deps) => new KernelIscsiConnector(deps),
      'qemu-native': (deps) => new QemuNativeIscsiConnector(deps),
    },
  },
  nvmeof: {
    parseData: parseNvmeofData,
    // No CHAP: NVMe in-band authentication is not spoken, so no hypervisor secret.
    secretUsage: () => null,
    connectors: {
      kernel: (deps) => new NvmeTcpConnector(deps, deps.nvmeTimeouts),
      // QEMU has no NVMe/TCP initiator: refused with HITCH_NVME_QEMU_NATIVE before the host is touched.
      'qemu-native': () => new NvmeQemuNativeRefusal(),
    },
  },
};

function isProtocol(p: unknown): p is Protocol {
  return typeof p === 'string' && Object.hasOwn(PROTOCOLS, p);
}

/** The secret usage of `info` on `instance` (`ProtocolEntry.secretUsage`). */
export function secretUsageOf<P extends Protocol>(protocol: P, info: ConnectionInfos[P], instance: string): string | null {
  return PROTOCOLS[protocol].secretUsage(info, instance);
}

/**
 * The JSON edge for `connection_info` (block storage's answer, a mapping's stored copy): check
 * the envelope and the protocol's data, and type it. `HITCH_UNSUPPORTED_PROTOCOL` for a
 * protocol brick has no connector for (`rbd`, `fibre_channel`, …).
 */
export function parseConnectionInfo(raw: unknown): ConnectionInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HitchError('HITCH_INVALID_CONNECTION_INFO', { field: 'connection_info', reason: 'must be an object' });
  }
  const protocol = 'driver_volume_type' in raw ? raw.driver_volume_type : undefined;
  const data = 'data' in raw ? raw.data : undefined;
  if (!isProtocol(protocol)) throw new HitchError('HITCH_UNSUPPORTED_PROTOCOL', { protocol: String(protocol).slice(0, 40) });
  // One branch per protocol: TypeScript pairs a tag with its data only when the tag is a literal.
  switch (protocol) {
    case 'iscsi':
      return { driver_volume_type: protocol, data: PROTOCOLS.iscsi.parseData(data) };
    case 'nvmeof':
      return { driver_volume_type: protocol, data: PROTOCOLS.nvmeof.parseData(data) };
  }
}

/** `parseConnectionInfo`, or null for a connection brick cannot read (nothing was ever connected from it). */
export function readConnectionInfo(raw: unknown): ConnectionInfo | null {
  try {
    return parseConnectionInfo(raw);
  } catch {
    return null;
  }
}
