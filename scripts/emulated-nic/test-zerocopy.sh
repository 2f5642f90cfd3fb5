#!/usr/bin/env bash
# make test's emulated-NIC cases: boots the lab guest with two virtio-net NICs
# on one QEMU hub and runs guest-suite.sh there (release xdpbench txonly ->
# rxdrop with --zero-copy required on both ends and an exact count; the
# udp-echo example in zero-copy). Fails loudly when QEMU, the guest kernel or
# a binary is missing: no skipping.
# Usage: test-zerocopy.sh [BIN_DIR]   (default .build/release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

bin=${1:-$repo/.build/release}
for b in xdpbench udp-echo; do
    [ -x "$bin/$b" ] || { echo "emulated-nic: no $bin/$b: swift build -c release --product $b" >&2; exit 1; }
done
bin=$(cd "$bin" && pwd)

start=$SECONDS
if "$here/run-guest.sh" --nics 2 --timeout 240 -- sh "$here/guest-suite.sh" "$bin"; then
    echo "emulated-nic: zero-copy cases passed ($((SECONDS - start)) s)"
else
    rc=$?
    echo "emulated-nic: zero-copy cases FAILED (exit $rc, $((SECONDS - start)) s)" >&2
    exit 1
fi
