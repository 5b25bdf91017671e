/**
 * A server create request after Nova's checks (`servers.py` create and `compute/api.py`'s
 * `_validate_bdm`): the block device mappings in their one form (legacy `block_device_mapping`
 * converted), the boot sequence checked, device names assigned as Nova's libvirt driver assigns
 * them (the root disk `vda`, then in boot order), and every refusal with Nova's message.
 */
import { HitchError } from '../errors.ts';
import { normaliseDevice } from './device-name.ts';

export type BdmSource = 'volume' | 'image' | 'blank' | 'snapshot';

/** One requested block device that the server boots with (a volume, or one made for it). */
export interface BootDevice {
  readonly sourceType: BdmSource;
  /** The volume, image or snapshot id; null for a blank volume. */
  readonly uuid: string | null;
  readonly bootIndex: number | null;
  /** GiB of the volume to create (image, blank, snapshot sources). */
  readonly volumeSize: number | null;
  readonly deleteOnTermination: boolean;
  readonly deviceName: string;
  readonly tag: string | null;
  readonly volumeType: string | null;
}

export interface CreateServerInput {
  readonly name: string;
  /** An image id, or '' when the server boots from a volume. */
  readonly imageRef: string;
  readonly flavorRef: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly keyName?: string | null;
  readonly userData?: string | null;
  readonly availabilityZone?: string | null;
  readonly description?: string | null;
  readonly hostname?: string | null;
  readonly configDrive?: boolean;
  readonly accessIPv4?: string | null;
  readonly accessIPv6?: string | null;
  readonly diskConfig?: string | null;
  readonly tags?: readonly string[];
  readonly trustedCerts?: readonly string[] | null;
  readonly networks?: 'none' | 'auto' | ReadonlyArray<{ readonly uuid?: string; readonly port?: string | null; readonly fixed_ip?: string }>;
  readonly securityGroups?: readonly string[];
  /** `block_device_mapping_v2` entries (or the legacy form), as the client sent them. */
  readonly blockDevices?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly legacyBlockDevices?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly minCount?: number;
  readonly maxCount?: number;
  /** 2.74 `host` / `hypervisor_hostname`: a host chosen by an admin. */
  readonly host?: string | null;
  readonly hypervisorHostname?: string | null;
  /** Scheduler hints Hitch honours: servers to share or avoid a host with. */
  readonly sameHost?: readonly string[];
  readonly differentHost?: readonly string[];
  readonly group?: string | null;
  /** The request's microversion allows multiattach volumes (2.60+). */
  readonly multiattachAllowed?: boolean;
  readonly injectedFiles?: number;
}

export function invalidBdm(details: string): HitchError {
  const message = `Block Device Mapping is Invalid: ${details}`;
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

function bad(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

const BOOL_TRUE = ['1', 't', 'true', 'on', 'y', 'yes'];
const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && BOOL_TRUE.includes(v.toLowerCase()));
const intOrNull = (v: unknown): number | null => (v === undefined || v === null || v === '' ? null : Number(v));

/** Legacy `block_device_mapping` → the v2 form (`volume_id`/`snapshot_id` → source volume/snapshot). */
function fromLegacy(b: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (b['no_device']) return { no_device: true };
  const snapshot = b['snapshot_id'];
  return {
    source_type: snapshot ? 'snapshot' : 'volume',
    destination_type: 'volume',
    uuid: snapshot ?? b['volume_id'],
    ...(b['volume_size'] !== undefined ? { volume_size: b['volume_size'] } : {}),
    ...(b['delete_on_termination'] !== undefined ? { delete_on_termination: b['delete_on_termination'] } : {}),
    ...(b['device_name'] !== undefined ? { device_name: b['device_name'] } : {}),
    // A legacy mapping on the root device is the boot disk.
    boot_index: typeof b['device_name'] === 'string' && /^(\/dev\/)?[a-z]+da$/.test(b['device_name']) ? 0 : null,
  };
}

/**
 * The boot devices of a request, in boot order, with device names; the image is the root disk
 * unless a mapping has boot index 0. Throws Nova's 400s for malformed mappings.
 */
export function bootDevices(input: CreateServerInput): BootDevice[] {
  if ((input.blockDevices?.length ?? 0) > 0 && (input.legacyBlockDevices?.length ?? 0) > 0) {
    throw bad('Using different block_device_mapping syntaxes is not allowed in the same request.');
  }
  const raw = input.legacyBlockDevices?.length ? input.legacyBlockDevices.map(fromLegacy) : (input.blockDevices ?? []);
  const imageGiven = input.imageRef !== '';
  const out: Array<Omit<BootDevice, 'deviceName'> & { deviceName: string | null }> = [];
  for (const b of raw) {
    if (b['no_device']) continue;
    const source = (b['source_type'] as BdmSource | undefined) ?? (b['volume_id'] ? 'volume' : b['snapshot_id'] ? 'snapshot' : b['image_id'] ? 'image' : undefined);
    const uuid = (b['uuid'] ?? b['volume_id'] ?? b['snapshot_id'] ?? b['image_id'] ?? null) as string | null;
    const dest = (b['destination_type'] as string | undefined) ?? (source === 'volume' || source === 'snapshot' ? 'volume' : 'local');
    const bootIndex = intOrNull(b['boot_index']);
    if (source === undefined) throw invalidBdm('Missing device UUID.');
    if (source === 'blank' && uuid) throw invalidBdm('Invalid device UUID.');
    if (source !== 'blank' && !uuid) throw invalidBdm('Missing device UUID.');
    if (source === 'image' && dest === 'local') {
      // The image as the root disk: what imageRef already says.
      if (!(imageGiven && (bootIndex ?? -1) === 0)) throw invalidBdm('Mapping image to local is not supported.');
      continue;
    }
    if (dest === 'local' && b['volume_type']) throw invalidBdm('Specifying a volume_type with destination_type=local is not supported.');
    if (source === 'volume' && b['volume_type']) throw invalidBdm('Specifying volume type to existing volume is not supported.');
    if (dest === 'local') {
      // Ephemeral and swap disks live on the compute host's local storage, which Hitch's hosts
      // do not have: servers boot from an image kernel or from volumes.
      throw invalidBdm('local disks (ephemeral, swap) are not supported by this cloud; use destination_type volume.');
    }
    const size = intOrNull(b['volume_size']);
    if (source === 'image' && !size) throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: "Images with destination_type 'volume' need to have a non-zero size specified" });
    if (source === 'blank' && !size) throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: "Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size" });
    const bus = b['disk_bus'];
    if (bus !== undefined && !['virtio', 'scsi', 'ide', 'usb', 'sata', 'fdc', 'xen', 'uml', 'lxc', 'parallels'].includes(String(bus))) {
      throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: `Block Device Mapping is invalid: The provided disk bus ${String(bus)} is not valid.` });
    }
    out.push({
      sourceType: source,
      uuid,
      bootIndex: bootIndex !== null && bootIndex >= 0 ? bootIndex : null,
      volumeSize: size,
      deleteOnTermination: truthy(b['delete_on_termination']),
      deviceName: typeof b['device_name'] === 'string' ? b['device_name'] : null,
      tag: typeof b['tag'] === 'string' ? b['tag'] : null,
      volumeType: typeof b['volume_type'] === 'string' ? b['volume_type'] : null,
    });
  }
  // The boot sequence: 0, 1, 2… without gaps, and something to boot (an image, or index 0).
  const indexes = out.map((d) => d.bootIndex).filter((i): i is number => i !== null);
  const sequence = imageGiven && !indexes.includes(0) ? [0, ...indexes] : indexes;
  sequence.sort((a, b) => a - b);
  if (sequence.length === 0 || sequence.some((v, i) => v !== i)) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', {}, { message: 'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.' });
  }
  const ids = out.filter((d) => d.sourceType === 'volume').map((d) => d.uuid);
  if (new Set(ids).size !== ids.length) throw invalidBdm('the same volume is mapped twice.');
  // Names: requested ones first, then the boot order for the rest, the root disk on vda.
  const ordered = [...out].sort((a, b) => (a.bootIndex ?? 1e9) - (b.bootIndex ?? 1e9));
  const taken = new Set<string>();
  const withNames: Array<(typeof out)[number] & { deviceName: string | null }> = ordered.map((d) => {
    if (d.deviceName === null) return d;
    const m = /^(?:\/dev\/)?(vd[a-z]{1,2})$/.exec(d.deviceName);
    if (!m) throw invalidBdm(`Device name ${d.deviceName} is not valid.`);
    const dev = m[1] === 'vda' ? '/dev/vda' : normaliseDevice(d.deviceName);
    if (taken.has(dev)) throw invalidBdm(`Device name ${dev} is used twice.`);
    taken.add(dev);
    return { ...d, deviceName: dev };
  });
  const rootTaken = imageGiven && !indexes.includes(0);
  let next = 0;
  const free = (): string => {
    for (;;) {
      const n = `/dev/vd${next < 26 ? String.fromCharCode(97 + next) : String.fromCharCode(97 + Math.floor((next - 26) / 26)) + String.fromCharCode(97 + ((next - 26) % 26))}`;
      next++;
      if (n === '/dev/vda' && rootTaken) continue;
      if (!taken.has(n)) {
        taken.add(n);
        return n;
      }
    }
  };
  return withNames.map((d) => ({ ...d, deviceName: d.deviceName ?? free() }));
}
