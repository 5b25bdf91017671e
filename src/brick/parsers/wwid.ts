/**
 * The SCSI WWN of a disk, as multipath names it.
 *
 * `/sys/block/sdb/device/wwid` holds the VPD page 0x83 designator with its type, e.g.
 * `naa.60000000000000000e00000000010001`; `scsi_id --page 0x83 --whitelisted` prints the same
 * identifier with a numeric type prefix: `360000000000000000e00000000010001` (3 = NAA,
 * 2 = EUI-64, 1 = T10 vendor id). Hitch uses the scsi_id form everywhere (it is the name of the
 * multipath map and of `/dev/disk/by-id/dm-uuid-mpath-<WWN>`).
 */
export function wwnFromSysfsWwid(text: string): string | null {
  const s = text.trim().replace(/\0+$/, '');
  const m = /^(naa|eui)\.([0-9a-fA-F]+)$/.exec(s);
  if (!m) return null;
  return (m[1] === 'naa' ? '3' : '2') + (m[2] ?? '').toLowerCase();
}

/** `scsi_id` output: one line, the WWN (fixture `scsi_id-*.txt` show exit 1 and no output). */
export function parseScsiId(stdout: string): string | null {
  const s = stdout.trim();
  return /^[0-9a-zA-Z_.-]{2,128}$/.test(s) ? s : null;
}
