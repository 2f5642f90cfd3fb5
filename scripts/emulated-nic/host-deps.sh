#!/usr/bin/env bash
# Prepares the emulated-NIC lab (called by scripts/deps.sh, as root): the host
# packages qemu-system-x86 and busybox-static from the host's own Debian 12
# sources, then the guest kernel (fetch-guest-kernel.sh: trixie-backports
# through the lab's own apt configuration, never installed on the host) and
# the initramfs; and a QEMU for igb (fetch-qemu.sh: bookworm-backports, unpacked
# under the lab cache, not installed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(qemu-system-x86 busybox-static file)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]} (emulated-NIC lab)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

kernel_dir=$("$here/fetch-guest-kernel.sh")
"$here/initramfs.sh" "$kernel_dir" >/dev/null
# fetch-qemu.sh prints two lines: the binary, then its firmware path. Read
# both (`| head -1` closed the pipe early, and under pipefail the SIGPIPE
# that fetch-qemu.sh then died of failed deps with 141 now and then).
qemu_paths=$("$here/fetch-qemu.sh")
qemu=${qemu_paths%%$'\n'*}
qemu_version=$("$qemu" --version)
echo "deps: emulated-NIC lab ready (guest kernel $(basename "$kernel_dir"); igb with ${qemu_version%%$'\n'*})"
