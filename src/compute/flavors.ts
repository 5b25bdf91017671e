/**
 * The flavors every Hitch cloud has. Flavors size the guest only; they do not affect volume
 * attach, so a fixed set (as DevStack creates) is enough.
 */
export interface Flavor {
  readonly id: string;
  readonly name: string;
  readonly ram: number;
  readonly vcpus: number;
  readonly disk: number;
}

export const FLAVORS: readonly Flavor[] = Object.freeze([
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
  { id: '42', name: 'h1.micro', ram: 128, vcpus: 1, disk: 0 },
]);

export function findFlavor(ref: string): Flavor | undefined {
  const id = ref.replace(/^.*\/flavors\//, '');
  return FLAVORS.find((f) => f.id === id || f.name === id);
}

/** The one image: the tiny guest (kernel + busybox initramfs) the real-host tests boot. */
export const IMAGES = Object.freeze([
  { id: '8a3a1d5e-8c2b-4b6e-9a43-3b0f4c1f2a10', name: 'hitch-tiny', disk_format: 'raw', container_format: 'bare', size: 0 },
]);

export function findImage(ref: string): (typeof IMAGES)[number] | undefined {
  const id = ref.replace(/^.*\/images\//, '');
  return IMAGES.find((i) => i.id === id || i.name === id);
}
