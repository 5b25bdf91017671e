/**
 * The image service's images. There is one: the tiny guest (kernel + busybox initramfs) the
 * real-host tests boot. `TINY_IMAGE_ID` is what API callers put in `imageRef` (Nova takes image
 * ids only; clients resolve names through the image API).
 */
export const TINY_IMAGE_ID = '8a3a1d5e-8c2b-4b6e-9a43-3b0f4c1f2a10';

export const IMAGES = Object.freeze([{ id: TINY_IMAGE_ID, name: 'hitch-tiny', disk_format: 'raw', container_format: 'bare', size: 0 }]);

export function findImage(ref: string): (typeof IMAGES)[number] | undefined {
  const id = ref.replace(/^.*\/images\//, '');
  return IMAGES.find((i) => i.id === id || i.name === id);
}
