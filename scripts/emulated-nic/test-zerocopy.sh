#!/usr/bin/env bash
# make test's emulated-NIC case: boots the lab guest with two virtio-net NICs
# on one QEMU hub and runs guest-zerocopy.sh there (release xdpbench, exact
# count, --zero-copy required on both ends). Fails loudly when QEMU, the guest
# kernel or the binary is missing: no skipping.
# Usage: test-zerocopy.sh [XDPBENCH]   (default .build-zc/release/xdpbench, else .build/release/xdpbench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

bench=${1:-}
if [ -z "$bench" ]; then
    for b in "$repo/.build-zc/release/xdpbench" "$repo/.build/release/xdpbench"; do
        [ -x "$b" ] && { bench=$b; break; }
    done
fi
[ -n "$bench" ] && [ -x "$bench" ] || { echo "emulated-nic: no release xdpbench: swift build -c release --product xdpbench" >&2; exit 1; }
bench=$(cd "$(dirname "$bench")" && pwd)/$(basename "$bench")

start=$SECONDS
if "$here/run-guest.sh" --nics 2 --timeout 180 -- sh "$here/guest-zerocopy.sh" "$bench" "${ZC_COUNT:-20000}"; then
    echo "emulated-nic: virtio-net zero-copy send/receive passed ($((SECONDS - start)) s)"
else
    rc=$?
    echo "emulated-nic: virtio-net zero-copy send/receive FAILED (exit $rc, $((SECONDS - start)) s)" >&2
    exit 1
fi
