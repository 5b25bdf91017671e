/**
 * From microversion 2.86 Nova checks flavor extra specs as they are set: a key in a namespace
 * Nova owns (`hw:`, `hw_rng:`, `os:` …) must be one it knows, and its value must be of the
 * key's kind. Keys without a namespace, and namespaces Nova does not own, pass unchecked.
 *
 * This is the registry of those keys (names from Nova's extra-spec reference); the namespaces
 * whose keys are open-ended (`capabilities:`, `resources*:`, `trait*:`,
 * `aggregate_instance_extra_specs:`, `quota:`) are checked for their form only.
 */
import { badRequest } from './nova-types.ts';

type Kind = { readonly t: 'bool' } | { readonly t: 'int'; readonly min?: number } | { readonly t: 'enum'; readonly of: readonly string[] } | { readonly t: 'str'; readonly re?: RegExp };

const bool: Kind = { t: 'bool' };
const int = (min?: number): Kind => (min === undefined ? { t: 'int' } : { t: 'int', min });
const oneOf = (...of: string[]): Kind => ({ t: 'enum', of });
const str = (re?: RegExp): Kind => (re ? { t: 'str', re } : { t: 'str' });
const CPU_MASK = /\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*/;

const NAMED: Readonly<Record<string, Kind>> = {
  'hw:cpu_realtime': bool,
  'hw:cpu_realtime_mask': str(/(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*/),
  'hw:hide_hypervisor_id': bool,
  'hw:cpu_policy': oneOf('dedicated', 'shared', 'mixed'),
  'hw:cpu_thread_policy': oneOf('prefer', 'isolate', 'require'),
  'hw:emulator_threads_policy': oneOf('isolate', 'share'),
  'hw:cpu_dedicated_mask': str(CPU_MASK),
  'hw:mem_page_size': str(/(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)/),
  'hw:locked_memory': bool,
  'hw:numa_nodes': int(1),
  'hw:pci_numa_affinity_policy': oneOf('required', 'preferred', 'legacy', 'socket'),
  'hw:cpu_sockets': int(1),
  'hw:cpu_cores': int(1),
  'hw:cpu_threads': int(1),
  'hw:cpu_max_sockets': int(1),
  'hw:cpu_max_cores': int(1),
  'hw:cpu_max_threads': int(1),
  'hw:boot_menu': bool,
  'hw:vif_multiqueue_enabled': bool,
  'hw:mem_encryption': bool,
  'hw:mem_encryption_model': oneOf('amd-sev', 'amd-sev-es', 'amd-sev-snp'),
  'hw:pmem': str(/([a-zA-Z0-9_]+(,)?)+/),
  'hw:pmu': bool,
  'hw:serial_port_count': int(0),
  'hw:tpm_model': oneOf('tpm-tis', 'tpm-crb'),
  'hw:tpm_version': oneOf('1.2', '2.0'),
  'hw:tpm_secret_security': oneOf('user', 'host', 'deployment'),
  'hw:watchdog_action': oneOf('none', 'pause', 'poweroff', 'reset', 'disabled'),
  'hw:viommu_model': oneOf('intel', 'smmuv3', 'virtio', 'auto'),
  'hw:virtio_packed_ring': bool,
  'hw:sound_model': oneOf('sb16', 'es1370', 'pcspk', 'ac97', 'ich6', 'ich9', 'usb', 'virtio'),
  'hw:usb_model': oneOf('none', 'piix3-uhci', 'qemu-xhci', 'nec-xhci', 'auto'),
  'hw:redirected_usb_ports': int(0),
  'hw:ephemeral_encryption': bool,
  'hw:ephemeral_encryption_format': oneOf('luks'),
  'hw_rng:allowed': bool,
  'hw_rng:rate_bytes': int(0),
  'hw_rng:rate_period': int(0),
  'hw_video:ram_max_mb': int(0),
  'os:secure_boot': oneOf('required', 'disabled', 'optional'),
  'accel:device_profile': str(),
  'pci_passthrough:alias': str(/[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*/),
  'vmware:hw_version': str(),
  'vmware:storage_policy': str(),
  hide_hypervisor_id: bool,
  group_policy: oneOf('isolate', 'none'),
};

/** Keys with a parameter in their name. */
const PATTERNED: ReadonlyArray<readonly [RegExp, Kind]> = [
  [/^hw:numa_cpus\.\d+$/, str(CPU_MASK)],
  [/^hw:numa_mem\.\d+$/, int(1)],
  [/^quota:(cpu|memory|disk_io|vif)_(limit|reservation|shares_share)$/, int()],
  [/^quota:(cpu|memory|disk_io|vif)_shares_level$/, oneOf('custom', 'high', 'normal', 'low')],
  [/^quota:cpu_(shares|period)$/, int(0)],
  [/^quota:cpu_quota$/, int()],
  [/^quota:disk_(read|write|total)_(bytes|iops)_sec(_max)?$/, int(0)],
  [/^quota:disk_(read|write|total)_(bytes|iops)_sec_max_length$/, int(0)],
  [/^quota:disk_size_iops_sec$/, int(0)],
  [/^quota:vif_(inbound|outbound)_(average|peak|burst)$/, int(0)],
  [/^capabilities:\S+$/, str()],
  [/^aggregate_instance_extra_specs:.+$/, str(/.+/)],
  [/^resources([a-zA-Z0-9_-]{1,64})?:[A-Z0-9_]+$/, int()],
  [/^trait([a-zA-Z0-9_-]{1,64})?:[A-Z0-9_]+$/, oneOf('required', 'forbidden')],
];

/** Namespaces Nova registers validators in: an unknown key there is refused. */
const NAMESPACES = [/^hw$/, /^hw_rng$/, /^hw_video$/, /^os$/, /^quota$/, /^accel$/, /^capabilities$/, /^aggregate_instance_extra_specs$/, /^pci_passthrough$/, /^resources([a-zA-Z0-9_-]{1,64})?$/, /^trait([a-zA-Z0-9_-]{1,64})?$/, /^vmware$/];

const BOOLS = ['1', 't', 'true', 'on', 'y', 'yes', '0', 'f', 'false', 'off', 'n', 'no'];

function fail(message: string): never {
  throw badRequest(`Validation failed; ${message}`);
}

function check(kind: Kind, value: string): void {
  switch (kind.t) {
    case 'bool':
      if (!BOOLS.includes(value.trim().toLowerCase())) fail(`'${value}' is not a valid boolean-like value.`);
      return;
    case 'int': {
      if (!/^\s*[-+]?\d+\s*$/.test(value)) fail(`'${value}' is not a valid integer value.`);
      if (kind.min !== undefined && Number(value) < kind.min) fail(`'${value}' is less than the min value of '${kind.min}'.`);
      return;
    }
    case 'enum':
      if (!kind.of.includes(value)) fail(`'${value}' is not one of: ${kind.of.join(', ')}.`);
      return;
    case 'str':
      if (kind.re && !new RegExp(`^(?:${kind.re.source})$`).test(value)) fail(`'${value}' is not of the format '${kind.re.source}'.`);
      return;
  }
}

/** Check one extra spec as Nova 2.86+ does; throws Nova's 400. */
export function checkExtraSpec(name: string, value: string): void {
  const known = NAMED[name] ?? PATTERNED.find(([re]) => re.test(name))?.[1];
  if (known) return check(known, value);
  const colon = name.indexOf(':');
  if (colon < 0) return;
  const ns = name.slice(0, colon);
  if (NAMESPACES.some((re) => re.test(ns))) fail(`extra spec '${name}' does not appear to be a valid extra spec.`);
}
