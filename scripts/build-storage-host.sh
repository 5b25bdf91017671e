#!/usr/bin/env bash
# Builds (or reuses) the storage host guest: a Debian 12 system that boots under QEMU (TCG is
# enough) with Debian's own kernel, so the real iscsi_tcp, dm-multipath, udev, iscsid, multipathd,
# tgt, LIO and nvmet run there — what this machine's own kernel cannot offer (no modules, no
# device-mapper). Hitch's storage-host suite and `npm run bench -- --only real-host` boot it.
#
#   vmlinuz       Debian 12's linux-image-6.1.0-*-amd64, unpacked with dpkg-deb (not installed)
#   initrd.img    busybox + virtio/ext4 modules: mounts the root disk, copies the guest's init
#                 (below) into it as /sbin/hitch-guest-init and switch_roots into it
#   rootfs.img    ext4: `debootstrap --variant=minbase bookworm` + open-iscsi, multipath-tools,
#                 udev, tgt, nftables, sg3-utils, lsscsi, nvme-cli, kmod, iproute2, procps,
#                 util-linux, python3-os-brick, the kernel's modules, this machine's /usr/bin/node
#   versions.json the versions that matter to a reader of a measurement (kernel, open-iscsi, ...)
#
# The cache directory is keyed on what goes in: the kernel package, the candidate version of every
# package listed here, node's version and ROOTFS_REV. A second run resolves those versions (one
# apt-cache call) and reuses the image: a few seconds. The initramfs and the guest's init are
# keyed on BOOT_REV alone, so changing them rebuilds initrd.img in seconds, not the root filesystem. Needs root (debootstrap, chroot),
# apt lists (`apt-get update`), debootstrap, dpkg-deb, depmod (kmod), cpio, mke2fs (e2fsprogs).
# scripts/install-test-peers.sh installs those and runs this script.
#
# The last line printed is the cache directory. The guest's init (/sbin/hitch-guest-init) mounts
# the 9p share tagged `hitch` at /hitch, brings up udev, loads the storage modules, then runs
# `/hitch/<job>/run.sh` (the job directory named by `hitch.job=` on the kernel command line),
# its output on the serial console, and powers the guest off.
set -euo pipefail

ROOTFS_REV=1 # bump when the root filesystem changes in a way the package versions do not show
BOOT_REV=2   # bump when the initramfs or the guest's init changes (rebuilds initrd.img only)
PACKAGES=(open-iscsi multipath-tools udev tgt nftables sg3-utils lsscsi nvme-cli kmod iproute2 procps
  util-linux python3-os-brick libstdc++6 e2fsprogs)
MODULES=(iscsi_tcp dm_multipath dm_round_robin dm_service_time scsi_dh_alua scsi_dh_emc scsi_dh_rdac sd_mod sg
  nvme_tcp nvme_fabrics nvmet nvmet_tcp target_core_mod target_core_iblock target_core_file iscsi_target_mod loop 9p 9pnet_virtio)

log() { echo "build-storage-host: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "needs root (debootstrap, chroot, mounts)"; exit 1; }

cache_root="${HITCH_STORAGE_HOST_CACHE:-/var/cache/hitch-storage-host}"
mkdir -p "$cache_root"

kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
kpkg=$(kernel_pkg)
if [[ -z "$kpkg" ]]; then apt-get update -qq >/dev/null; kpkg=$(kernel_pkg); fi
[[ -n "$kpkg" ]] || { log "cannot resolve linux-image-amd64 (apt lists?)"; exit 1; }
kv=${kpkg#linux-image-}

# One apt-cache call for every candidate version (one call per package costs seconds on a busy machine).
policy=$(apt-cache policy "$kpkg" "${PACKAGES[@]}" busybox-static 2>/dev/null)
candidate_of() { awk -v p="$1:" '$0 == p {found=1; next} found && /Candidate:/ {print $2; exit}' <<<"$policy"; }
key_text="rev=$ROOTFS_REV kernel=$kpkg=$(candidate_of "$kpkg") node=$(/usr/bin/node --version)"
for p in "${PACKAGES[@]}" busybox-static; do
  v=$(candidate_of "$p")
  [[ -n "$v" && "$v" != "(none)" ]] || { log "no candidate for $p"; exit 1; }
  key_text+=" $p=$v"
done
key=$(printf '%s' "$key_text" | sha256sum | cut -c1-16)
out="$cache_root/$kv-$key"
start=$SECONDS

work=$(mktemp -d "$cache_root/.build.XXXXXX")
root="$work/root"
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work" # apt-get download runs as _apt, which must write here
cd "$work"

# The kernel and busybox packages, kept beside the image for the initramfs.
fetch_debs() {
  mkdir -p "$1"
  if ! ls "$1/$kpkg"_*.deb >/dev/null 2>&1 || ! ls "$1"/busybox-static_*.deb >/dev/null 2>&1; then
    (cd "$work" && apt-get download -q "$kpkg" busybox-static >/dev/null 2>&1 && mv ./*.deb "$1/")
  fi
  rm -rf "$work/k" "$work/bb"
  mkdir -p "$work/k" "$work/bb"
  dpkg-deb -x "$1/$kpkg"_*.deb "$work/k"
  dpkg-deb -x "$1"/busybox-static_*.deb "$work/bb"
}

build_rootfs() {
log "building the root filesystem $out ($key_text)"
rm -rf "$out.tmp"
fetch_debs "$out.tmp/debs"
log "kernel $kv unpacked ($((SECONDS - start)) s)"
# --- root filesystem ---------------------------------------------------------------------------
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
log "debootstrap done ($((SECONDS - start)) s)"
security=$(awk '/^URIs:/ && $2 ~ /debian-security\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
security=${security:-http://deb.debian.org/debian-security}
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
# No docs, man pages or translations: a smaller image, a faster mkfs.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-hitch-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
EOF
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -qq >/dev/null
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log" >&2; exit 1; }
chroot "$root" apt-get clean
versions=$(chroot "$root" dpkg-query -W -f='"${Package}": "${Version}",\n' open-iscsi multipath-tools tgt udev python3-os-brick nvme-cli nftables)
for m in dev/pts dev proc sys; do umount "$root/$m"; done
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
log "packages installed ($((SECONDS - start)) s)"

# The kernel's modules (and its image, for the record), the machine's node.
cp -a "$work/k/lib/modules" "$root/lib/"
depmod -b "$root" "$kv"
install -m 0755 /usr/bin/node "$root/usr/local/bin/node"
# A fixed initiator name: the same on every boot (open-iscsi's postinst may have made one already).
echo "InitiatorName=iqn.1993-08.org.debian:01:hitch-storage-host" >"$root/etc/iscsi/initiatorname.iscsi"
chmod 0600 "$root/etc/iscsi/initiatorname.iscsi"
echo hitch-storage-host >"$root/etc/hostname"
mkdir -p "$root/hitch" "$root/sys/kernel/config"

size_mb=$(( $(du -sm "$root" | cut -f1) + 512 ))
mke2fs -q -t ext4 -d "$root" -L hitch-root "$out.tmp/rootfs.img" "${size_mb}M"
cp "$work/k/boot/vmlinuz-$kv" "$out.tmp/vmlinuz"
{
  echo "{"
  echo "  \"kernel\": \"$kv\", \"kernelPackage\": \"$(candidate_of "$kpkg")\", \"node\": \"$(/usr/bin/node --version)\","
  echo "$versions" | sed 's/^/  /'
  echo "  \"key\": \"$key\""
  echo "}"
} >"$out.tmp/versions.json"
rm -rf "$root"
rm -rf "$out"
mv "$out.tmp" "$out"
# Older builds are replaced, not kept (each is ~1.5 GB).
for old in "$cache_root"/*/; do [[ "${old%/}" != "$out" && -f "$old/rootfs.img" ]] && rm -rf "${old%/}"; done
log "root filesystem built ($((SECONDS - start)) s)"
}

# --- initramfs: load virtio + ext4, mount the root disk, install the guest's init, switch_root ---
build_initrd() {
fetch_debs "$out/debs"
local mods=$work/k/lib/modules/$kv
depmod -b "$work/k" "$kv"
ird="$work/initramfs"
rm -rf "$ird"
mkdir -p "$ird"/{bin,proc,sys,dev,newroot} "$ird/lib/modules/$kv"
cp "$work/bb/bin/busybox" "$ird/bin/"
# ext4 asks the crypto API for crc32c, which loads no module by itself without /sbin/modprobe:
# crc32c_generic goes in and is loaded first.
for d in $(grep -E '^kernel/(drivers/block/virtio_blk|drivers/virtio/virtio_pci|fs/ext4/ext4|crypto/crc32c_generic)\.ko' "$mods/modules.dep" | tr -d ':' | tr ' ' '\n' | sort -u); do
  mkdir -p "$ird/lib/modules/$kv/$(dirname "$d")"
  cp "$mods/$d" "$ird/lib/modules/$kv/$d"
done
cp "$mods"/modules.{dep,dep.bin,alias,alias.bin,order,builtin,softdep} "$ird/lib/modules/$kv/"
cat >"$ird/hitch-guest-init" <<'INIT'
#!/bin/sh
# PID 1 of the storage host guest (no systemd): mounts, udev, modules, then the job, then off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devpts devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run && mkdir -p /run/lock /run/udev
mount -t tmpfs tmpfs /tmp
ip link set lo up
hostname hitch-storage-host
job=$(sed -n 's/.*hitch\.job=\([^ ]*\).*/\1/p' /proc/cmdline)
modprobe -a 9p 9pnet_virtio
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none hitch /hitch || echo "HITCH-GUEST-ERROR 9p mount failed"
echo "HITCH-GUEST-UP $(uname -r)"
INIT
printf 'modprobe -a %s\n' "${MODULES[*]}" >>"$ird/hitch-guest-init"
cat >>"$ird/hitch-guest-init" <<'INIT'
mount -t configfs configfs /sys/kernel/config 2>/dev/null
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add
udevadm settle --timeout=60
echo "HITCH-GUEST-READY"
if [ -n "$job" ] && [ -x "/hitch/$job/run.sh" ]; then
  "/hitch/$job/run.sh" </dev/null
  echo "HITCH-GUEST-JOB-EXIT $?"
else
  echo "HITCH-GUEST-ERROR no job /hitch/$job/run.sh"
fi
sync
echo o >/proc/sysrq-trigger
sleep 60
INIT
chmod 0755 "$ird/hitch-guest-init"
cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /sbin && ln -sf /bin/modprobe /sbin/modprobe
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in crc32c_generic virtio_pci virtio_blk ext4; do modprobe $m; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /newroot || { echo "HITCH-GUEST-ERROR no root disk"; echo o > /proc/sysrq-trigger; }
cp /hitch-guest-init /newroot/sbin/hitch-guest-init
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/hitch-guest-init
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$BOOT_REV" >"$out/initrd.rev"
log "initramfs built ($((SECONDS - start)) s)"
}

if [[ ! -s "$out/rootfs.img" || ! -s "$out/vmlinuz" || ! -s "$out/versions.json" ]]; then build_rootfs; fi
if [[ ! -s "$out/initrd.img" || "$(cat "$out/initrd.rev" 2>/dev/null)" != "$BOOT_REV" ]]; then build_initrd; fi
log "ready: $out ($((SECONDS - start)) s)"
echo "$out"
