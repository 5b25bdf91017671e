#!/usr/bin/env bash
# Installs the real peers Hitch's tests drive, from Debian's packages, and the npm dependencies.
# Idempotent: packages already present are skipped, so a second run costs a few seconds.
# Each peer and the tests that need it:
#   postgresql                 – every repository test runs on PostgreSQL as well as SQLite
#   python3-openstackclient,
#   python3-cinderclient,
#   python3-novaclient         – the real OpenStack clients driven against a running Hitch
#   python3-tempest            – OpenStack's strict response schemas, checked against Hitch's answers
#   tgt, libiscsi-bin          – a real iSCSI target and a userspace initiator (real-host suite)
#   libvirt-daemon-system,
#   libvirt-clients,
#   qemu-system-x86,
#   qemu-block-extra           – real hypervisor and guest; QEMU's own iSCSI initiator (real-host suite)
#   open-iscsi                 – the host's initiator name (/etc/iscsi/initiatorname.iscsi), which the
#                                connector reports and QEMU logs in with (no kernel initiator needed)
#   cpio, kmod                 – scripts/build-test-guest.sh packs the tiny guest's initramfs
#                                (and downloads syslinux and mtools with apt-get download, unpacked, not
#                                installed, for its bootable disk image)
#   debootstrap, e2fsprogs,
#   util-linux (flock)         – scripts/build-storage-host.sh builds the storage host guest (Debian 12
#                                kernel, debootstrapped root with open-iscsi, multipath-tools, tgt,
#                                python3-os-brick) that test/storage-host boots under QEMU; run at the
#                                end of this script (as root), cached on the package versions
#   chromium                   – headless browser for the dashboard test
set -euo pipefail

PEERS=(postgresql python3-openstackclient python3-cinderclient python3-novaclient python3-tempest chromium
  tgt libiscsi-bin libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-block-extra open-iscsi cpio kmod python3-os-brick
  debootstrap e2fsprogs util-linux)
# Peers for later suites are listed in HITCH_EXTRA_PEERS by the script that needs them.
if [[ -n "${HITCH_EXTRA_PEERS:-}" ]]; then read -r -a extra <<<"$HITCH_EXTRA_PEERS"; PEERS+=("${extra[@]}"); fi

missing=()
for p in "${PEERS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done

if ((${#missing[@]})); then
  echo "install-test-peers: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps package scripts from starting daemons (tests start their own peers); it is
  # removed again afterwards unless it was there before.
  had_policy=0; [[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
  if [[ $had_policy -eq 0 ]]; then $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'; fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ $had_policy -eq 0 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
else
  echo "install-test-peers: all Debian peers present"
fi

cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

# The storage host guest image (minutes on a fresh machine, seconds when cached). Root only: it
# debootstraps and chroots. Without root the storage-host suite says what is missing.
if [[ $(id -u) -eq 0 ]]; then
  t0=$SECONDS
  bash scripts/build-storage-host.sh >/dev/null
  echo "install-test-peers: storage host guest image ready ($((SECONDS - t0)) s)"
fi
