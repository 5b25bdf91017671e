/**
 * The contract each protocol's connector fulfils for `Brick` (os-brick's `InitiatorConnector`):
 * connect a volume and hand back a disk the hypervisor can plug, undo that, and clean up what
 * earlier attempts left on the host. `protocols.ts` says which connector serves which protocol
 * in which attach mode; `Brick` picks one per `connection_info` and holds it for the host.
 */
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import type { Host } from '../ports/host.ts';
import type { AttachedVolume, HostExtendOutcome, ReapOutcome } from '../ports/host-connector.ts';
import type { Span } from '../ports/span.ts';
import type { BrickLogger } from './log.ts';
import type { IscsiTimeouts } from './connectors/iscsi.ts';

/** `kernel`: the host's own initiator makes a block device. `qemu-native`: QEMU opens the LUN itself. */
export type AttachMode = 'kernel' | 'qemu-native';

/** How long the NVMe/TCP connector waits for the kernel (`connectors/nvme-tcp.ts` holds the defaults). */
export interface NvmeTimeouts {
  /** One `nvme connect` (the kernel's own TCP connect gives up on a black hole after ≈ 7.5 s on 6.1). */
  readonly nvmeConnectMs: number;
  /** The namespace's device (udev's link) after the first controller is live. */
  readonly nvmeDeviceMs: number;
  /** The subsystem's sysfs directory to go after the last controller's disconnect. */
  readonly nvmeGoneMs: number;
  /**
   * A portal's TCP probe before its `nvme connect` (where the host has `tcpProbe`): a portal
   * silent this long gets no `nvme connect` now, and is probed again in the background.
   */
  readonly nvmeProbeMs: number;
  /** How long a silent portal is probed again in the background before it is given up (logged). */
  readonly nvmeLateJoinMs: number;
}

/** What a connector is built with: the host, what the host said about itself, brick's options. */
export interface ConnectorDeps {
  readonly host: Host;
  /** This host's connector properties (brick's cached copy; read on first need). */
  readonly props: (span: Span) => Promise<ConnectorProperties>;
  readonly enforceMultipath: boolean;
  readonly logger?: BrickLogger;
  readonly timeouts?: Partial<IscsiTimeouts>;
  readonly nvmeTimeouts?: Partial<NvmeTimeouts>;
  /** open-iscsi's node record directory (see `IscsiConnectorOptions`). */
  readonly iscsiNodesDir?: string;
  /** Write node records as files instead of with iscsiadm (see `BrickOptions.nodeRecordFiles`). */
  readonly nodeRecordFiles: boolean;
}

export interface ConnectContext {
  /** The instance the volume is for (a hypervisor secret is named per instance). */
  readonly instance: string;
}

export interface ProtocolConnector<I extends ConnectionInfo = ConnectionInfo> {
  /**
   * Make the volume usable and describe the disk: a stable block device, or QEMU's own session.
   * `info` is checked before anything touches the host.
   */
  connect(info: I, span: Span, ctx: ConnectContext): Promise<AttachedVolume>;
  /** Undo `connect`; `force` keeps going past failures and reports them in the trace. */
  disconnect(info: I, span: Span, opts: { readonly force: boolean }): Promise<void>;
  /**
   * Remove what this connector left on the host for connections no mapping needs (`keep`),
   * taking over `adopt` first. A connector that leaves nothing on the host reaps nothing.
   */
  /** The storage grew the attached volume: make the host see its new size (`HostVolumeConnector.extend`). */
  extend(info: I, span: Span): Promise<HostExtendOutcome>;
  reap(span: Span, opts: { readonly keep: () => Promise<readonly I[]>; readonly adopt: readonly I[] }): Promise<ReapOutcome>;
  /** Resolves when background work (portals still logging in or cleaning up) is done. */
  settled(): Promise<void>;
}
