/**
 * `virt/`: libvirt XML for servers and volumes, and the hypervisor drivers behind one port.
 * The compute service imports from here.
 */
export type {
  AttachOptions,
  DetachOptions,
  DetachResult,
  DiskInfo,
  DomainState,
  HypervisorDriver,
  OpOptions,
  SecretRef,
} from '../ports/hypervisor.ts';
export {
  buildDiskXml,
  checkDiskForAttach,
  diskSourceFromDevice,
  diskSourceLabel,
  parseDiskXml,
  type AttachedDeviceLike,
  type BlockDiskSource,
  type DiskSource,
  type DiskXmlSpec,
  type IscsiAuth,
  type IscsiNetworkDiskSource,
  type ParsedDisk,
} from './disk-xml.ts';
export {
  buildDomainXml,
  checkDomainSpec,
  parseDomainXml,
  parseDomblklist,
  type BlockListEntry,
  type DomainSpec,
  type ParsedDomain,
} from './domain-xml.ts';
export { buildSecretXml, secretUuidForUsage } from './secret-xml.ts';
export { LibvirtDriver, type LibvirtDriverOptions } from './libvirt-driver.ts';
export {
  SimHypervisor,
  DEFAULT_SIM_HYPERVISOR_LATENCY,
  type NetworkSourceProbe,
  type SimDiskView,
  type SimDomainView,
  type SimFault,
  type SimHypervisorLatency,
  type SimHypervisorOp,
  type SimHypervisorOptions,
} from './sim-hypervisor.ts';
export { TARGET_DEV_RE } from './xml-values.ts';
