#!/usr/bin/env bash
# Builds the guest's initramfs (static busybox, guest-init.sh as /init, the
# 9p/virtio-net/igb modules of the guest kernel with their dependencies) and
# prints its path. Cached under the lab cache by kernel version and by the
# content of the scripts that make it.
# Usage: initramfs.sh KERNEL_DIR   (from fetch-guest-kernel.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-env.sh"

kernel_dir=$1
abi=$(basename "$kernel_dir")
modules_dir=$kernel_dir/usr/lib/modules/$abi
modules=(9p 9pnet_virtio virtio_net igb xsk_diag)
busybox=/bin/busybox

if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    [ -x "$busybox" ] && ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
        || { echo "emulated-nic: $busybox is not a static busybox: apt-get install busybox-static" >&2; exit 1; }
fi

key=$(cat "$here/guest-init.sh" "$here/guest-modules.py" "$0" | sha256sum | cut -c1-12)
out=$LAB_CACHE/initramfs/$abi-$key.cpio.gz
if [ ! -s "$out" ]; then
    mkdir -p "$LAB_CACHE/initramfs"
    tree=$(mktemp -d "$LAB_CACHE/initramfs/tree.XXXXXX")
    trap 'rm -rf "$tree"' EXIT
    mkdir -p "$tree"/{bin,dev,proc,sys,newroot}
    cp "$busybox" "$tree/bin/busybox"
    ln -s busybox "$tree/bin/sh"
    install -m 0755 "$here/guest-init.sh" "$tree/init"
    python3 "$here/guest-modules.py" "$modules_dir" "$tree" "${modules[@]}" >/dev/null
    (cd "$tree" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$out.partial")
    mv "$out.partial" "$out"
    for old in "$LAB_CACHE"/initramfs/*.cpio.gz; do [ "$old" = "$out" ] || rm -f "$old"; done
fi
echo "$out"
