#!/usr/bin/env bash
# Builds (or reuses) the tiny guest of the real-host suite: Debian's cloud kernel and a busybox
# initramfs that loads the virtio/SCSI disk drivers and reports the guest's block devices on the
# serial console, one line per change:
#   GUEST-READY 6.1.0-41-cloud-amd64
#   GUEST-BLOCK: [vdb:1b6f37a4-1c63-4bd4-a ]
#   GUEST-SIZE: [vdb:2097152 ]
#   GUEST-LABEL: vda HITCH-TINY-IMAGE 8a3a1d5e-8c2b-4b6e-9a43-3b0f4c1f2a10
# (`name:serial`; virtio-blk carries the first 20 bytes of the disk's <serial>, the volume id;
# sizes in 512-byte sectors, as /sys/block/NAME/size says them, printed when one changes, as
# after an online extend; a disk's label is its first 64 bytes, printable ones only, printed
# once when the disk appears — what an image written to a boot volume starts with).
#
# Beside them, `boot.img`: the same guest as a bootable disk, for boot from volume. A FAT
# filesystem over the whole disk (no partition table) holding SYSLINUX, the kernel and the
# initramfs; the BIOS runs SYSLINUX's boot sector from the disk's first sector, SYSLINUX loads
# the kernel from the disk with `hitch.boot=disk` on its command line and prints on the serial
# console (`SYSLINUX 6.04 …`, `Loading vmlinuz... ok`; the kernel then logs
# `Kernel command line: BOOT_IMAGE=vmlinuz … hitch.boot=disk`, which a direct kernel boot lacks).
# Written to a volume's LUN, it is what a volume made from the image would hold.
#
# Nothing is installed: the .deb files (the kernel, busybox-static, and for boot.img syslinux
# and mtools) are downloaded with `apt-get download` and unpacked.
# The result is cached by kernel version under $HITCH_GUEST_CACHE (default
# /var/cache/hitch-test-guest, else ~/.cache/hitch-test-guest when that is not writable), so a
# second run — and CI on the same machine — costs one `apt-cache` call. The last line printed
# is the directory holding `vmlinuz`, `initrd.gz` and `boot.img`.
# Needs: apt (with lists: `apt-get update`), dpkg-deb, depmod (kmod), cpio, gzip, truncate.
set -euo pipefail

cache_root="${HITCH_GUEST_CACHE:-/var/cache/hitch-test-guest}"
if ! mkdir -p "$cache_root" 2>/dev/null || [[ ! -w "$cache_root" ]]; then cache_root="${HOME:-/tmp}/.cache/hitch-test-guest"; mkdir -p "$cache_root"; fi

# The cloud kernel image package the metapackage points at, e.g. linux-image-6.1.0-41-cloud-amd64.
resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
pkg=$(resolve)
# A fresh machine may have no package lists yet; root can fetch them.
if [[ -z "$pkg" && $(id -u) -eq 0 ]]; then apt-get update -qq >/dev/null 2>&1 || true; pkg=$(resolve); fi
if [[ -z "$pkg" ]]; then
  # No apt lists (fresh machine): reuse any cached build rather than fail.
  cached=$(find "$cache_root" -mindepth 2 -maxdepth 2 -name initrd.gz -printf '%h\n' 2>/dev/null | sort | tail -1)
  if [[ -n "$cached" ]]; then echo "$cached"; exit 0; fi
  echo "build-test-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2
  exit 1
fi
kv=${pkg#linux-image-}
out="$cache_root/$kv"
# The init script's version is part of the key, so a changed init rebuilds (and so does the boot
# disk, which carries the initramfs); the boot disk's own recipe has a version of its own.
init_rev=4
boot_rev="$init_rev.1"
initrd_ok() { [[ -s "$out/vmlinuz" && -s "$out/initrd.gz" && "$(cat "$out/rev" 2>/dev/null)" == "$init_rev" ]]; }
boot_ok() { [[ -s "$out/boot.img" && "$(cat "$out/boot-rev" 2>/dev/null)" == "$boot_rev" ]]; }
if initrd_ok && boot_ok; then echo "$out"; exit 0; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hitch-guest-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt-get download drops root to _apt, which must write here
cd "$work"

# The bootable disk: SYSLINUX (its installer writes the boot sector and ldlinux into the FAT
# through mtools, no mount needed), the kernel, the initramfs and SYSLINUX's configuration.
build_boot_disk() {
  mkdir -p boot-debs boot-tools
  (cd boot-debs && chmod 0777 . && apt-get download -q syslinux mtools >/dev/null)
  for d in boot-debs/*.deb; do dpkg-deb -x "$d" boot-tools; done
  cat > syslinux.cfg <<'CFG'
SERIAL 0 115200
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 panic=-1 hitch.boot=disk
CFG
  truncate -s 32M boot.img
  PATH="$PWD/boot-tools/usr/bin:$PATH" MTOOLS_SKIP_CHECK=1 bash -euo pipefail -c '
    mformat -i boot.img -v HITCHBOOT ::
    mcopy -i boot.img "$1/vmlinuz" "$1/initrd.gz" syslinux.cfg ::
    syslinux --install boot.img' _ "$out"
  cp boot.img "$out/boot.img.new"
  mv "$out/boot.img.new" "$out/boot.img"
  chmod 0644 "$out/boot.img"
  echo "$boot_rev" > "$out/boot-rev"
}

if initrd_ok; then build_boot_disk; echo "$out"; exit 0; fi
apt-get download -q "$pkg" busybox-static >/dev/null
mkdir -p k bb initramfs
dpkg-deb -x "$pkg"_*.deb k
dpkg-deb -x busybox-static_*.deb bb
mods=k/lib/modules/$kv
depmod -b "$PWD/k" "$kv"
mkdir -p initramfs/{bin,proc,sys,dev,tmp} "initramfs/lib/modules/$kv"
cp bb/bin/busybox initramfs/bin/
# The disk drivers and everything they depend on, as modules.dep lists them.
for d in $(grep -E '^kernel/drivers/(block/virtio_blk|virtio/virtio_pci|scsi/virtio_scsi|scsi/sd_mod)\.ko' "$mods/modules.dep" | tr -d ':' | tr ' ' '\n' | sort -u); do
  mkdir -p "initramfs/lib/modules/$kv/$(dirname "$d")"
  cp "$mods/$d" "initramfs/lib/modules/$kv/$d"
done
cp "$mods"/modules.{dep,dep.bin,alias,alias.bin,order,builtin} "initramfs/lib/modules/$kv/"
cat > initramfs/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci virtio_blk virtio_scsi sd_mod; do modprobe $m 2>/dev/null; done
echo "GUEST-READY $(uname -r)"
last="-"
lastsize="-"
labelled=" "
while true; do
  cur=""
  size=""
  for d in $(ls /sys/block | grep -v -e '^ram' -e '^loop'); do
    s=$(cat /sys/block/$d/serial 2>/dev/null | tr -d ' \n')
    cur="$cur$d${s:+:$s} "
    size="$size$d:$(cat /sys/block/$d/size 2>/dev/null) "
    case "$labelled" in *" $d:$s "*) ;; *)
      echo "GUEST-LABEL: $d $(dd if=/dev/$d bs=64 count=1 2>/dev/null | tr -dc 'A-Za-z0-9 ._:-')"
      labelled="$labelled$d:$s " ;;
    esac
  done
  if [ "$cur" != "$last" ]; then echo "GUEST-BLOCK: [$cur]"; last="$cur"; fi
  if [ "$size" != "$lastsize" ]; then echo "GUEST-SIZE: [$size]"; lastsize="$size"; fi
  sleep 0.2
done
INIT
chmod +x initramfs/init
(cd initramfs && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initrd.gz
mkdir -p "$out"
cp "k/boot/vmlinuz-$kv" "$out/vmlinuz"
cp initrd.gz "$out/initrd.gz"
chmod 0644 "$out/vmlinuz" "$out/initrd.gz"
echo "$init_rev" > "$out/rev"
build_boot_disk
echo "$out"
