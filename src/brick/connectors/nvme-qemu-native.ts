/**
 * NVMe/TCP in QEMU-native mode: QEMU has no NVMe/TCP initiator of its own (its `nvme://` block
 * driver is for local PCIe devices through VFIO), so such a host refuses the volume with a clear
 * error before touching anything, and has nothing to undo or reap.
 */
import { HitchError } from '../../errors.ts';
import type { NvmeofConnectionInfo } from '../../ports/attach.ts';
import type { AttachedVolume, HostExtendOutcome, ReapOutcome } from '../../ports/host-connector.ts';
import type { ProtocolConnector } from '../connector.ts';
import { nvmeVolume } from '../nvmeof-connection-info.ts';

export class NvmeQemuNativeRefusal implements ProtocolConnector<NvmeofConnectionInfo> {
  connect(info: NvmeofConnectionInfo): Promise<AttachedVolume> {
    return Promise.reject(new HitchError('HITCH_NVME_QEMU_NATIVE', { nqn: nvmeVolume(info.data).nqn }));
  }

  /** Nothing was connected. */
  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing was connected, so nothing is extended. */
  extend(info: NvmeofConnectionInfo): Promise<HostExtendOutcome> {
    return Promise.reject(new HitchError('HITCH_NVME_QEMU_NATIVE', { nqn: nvmeVolume(info.data).nqn }));
  }

  reap(): Promise<ReapOutcome> {
    return Promise.resolve({ reaped: [], failures: [], pending: [] });
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }
}
