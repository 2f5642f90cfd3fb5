#!/usr/bin/env bash
# make test's emulated-NIC cases, in two guests:
#  - four virtio-net NICs on two QEMU hubs, guest-suite.sh (release xdpbench
#    txonly -> rxdrop with --zero-copy required on both ends and an exact
#    count, in each socket mode; l2fwd --to over one UMEM; the udp-echo
#    example in zero-copy);
#  - four igb NICs on two hubs (QEMU 10 from fetch-qemu.sh): guest-igb.sh
#    (queue IRQ discovery, 2-queue zero-copy rxdrop on pinned workers,
#    zero-copy txonly) and guest-igb-xdpfwd.sh (xdpfwd xconnect in zero-copy
#    with channels and IRQ affinity changed for real and undone).
# Fails loudly when QEMU, the guest kernel or a binary is missing: no skipping.
# Usage: test-zerocopy.sh [BIN_DIR]   (default .build/release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

bin=${1:-$repo/.build/release}
for b in xdpbench udp-echo xdpctl xdpfwd nic-conformance; do
    [ -x "$bin/$b" ] || { echo "emulated-nic: no $bin/$b: swift build -c release --product $b" >&2; exit 1; }
done
bin=$(cd "$bin" && pwd)

failed=0
start=$SECONDS
log=$(mktemp /tmp/emulated-nic-suite.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
"$here/run-guest.sh" --nics 4 --hubs 2 --timeout 420 -- sh "$here/guest-suite.sh" virtio "$bin" | tee "$log" || rc=$?
if [ $rc -eq 75 ]; then
    # Only the lab's known virtio-net zero-copy TX stall failed (a port's TX
    # queue stopped for good, the guest's NETDEV WATCHDOG said so; see
    # Benchmarks/README.md): each such case runs once more, alone, in a
    # fresh guest, and must pass there. Said, never silent.
    rc=0
    while read -r name; do
        echo "emulated-nic: '$name' stalled on virtio-net's TX queue; running it once more in a fresh guest"
        "$here/run-guest.sh" --nics 4 --hubs 2 --timeout 180 -- sh "$here/guest-suite.sh" virtio "$bin" "$name" || rc=$?
    done < <(sed -n 's/^--- case STALLED: \(.*\) ([0-9]* s)$/\1/p' "$log")
fi
if [ $rc -eq 0 ]; then
    echo "emulated-nic: virtio-net zero-copy cases passed ($((SECONDS - start)) s)"
else
    echo "emulated-nic: virtio-net zero-copy cases FAILED (exit $rc, $((SECONDS - start)) s)" >&2
    failed=1
fi
start=$SECONDS
if "$here/run-guest.sh" --model igb --nics 4 --hubs 2 --timeout 420 -- sh "$here/guest-suite.sh" igb "$bin"; then
    echo "emulated-nic: igb cases passed ($((SECONDS - start)) s)"
else
    echo "emulated-nic: igb cases FAILED (exit $?, $((SECONDS - start)) s)" >&2
    failed=1
fi
exit $failed
