/**
 * What a Host may touch by default: the file roots and the binaries. `LinuxHost` and the
 * simulated and remote hosts apply the same lists (`guard.ts` checks against them); a
 * deployment adds its data directory and extra tools through the host's options.
 */

/** Roots that file operations may touch. Data dirs are added by the host's config. */
export const DEFAULT_ALLOWED_ROOTS: readonly string[] = ['/sys', '/dev', '/etc/iscsi', '/etc/multipath', '/etc/nvme', '/proc'];

/**
 * Binaries Hitch may run. Each is a tool whose wrapper lives in `brick/`, `virt/` or `volume/`.
 * `tee` and `cat` exist for the sysfs writes and reads that shell-based tools do.
 */
export const DEFAULT_ALLOWED_BINARIES: readonly string[] = [
  'iscsiadm',
  'iscsid',
  'multipath',
  'multipathd',
  '/lib/udev/scsi_id',
  'scsi_id',
  'lsblk',
  'blockdev',
  'systool',
  'findmnt',
  'tee',
  'cat',
  'nvme',
  'tgtadm',
  'tgtd',
  'tgt-admin',
  'iscsi-ls',
  'iscsi-inq',
  'iscsi-readcapacity16',
  'virsh',
  'qemu-img',
  'hostname',
  'true',
  'false',
  'echo',
  'sleep',
  'ls',
];
