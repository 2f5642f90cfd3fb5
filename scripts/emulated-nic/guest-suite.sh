#!/bin/sh
# Runs inside the lab guest (four virtio-net NICs, eth0-eth1 and eth2-eth3 on
# two hubs): make test's zero-copy cases in order, each reported as it ends;
# exits non-zero when any failed.
# Usage: guest-suite.sh BIN_DIR   (holding the release xdpbench and udp-echo)
here=$(dirname "$0")
bin=$1
failed=0
run_case() {
    name=$1; shift
    echo "--- case: $name"
    if sh "$@"; then echo "--- case passed: $name"; else echo "--- case FAILED: $name"; failed=$((failed + 1)); fi
}
run_case "xdpbench txonly -> rxdrop, zero-copy both ends" "$here/guest-zerocopy.sh" "$bin/xdpbench" 20000
run_case "socket modes in zero-copy, and what the driver refuses" "$here/guest-variants.sh" "$bin/xdpbench" 2000
run_case "l2fwd --to across two NICs over one UMEM, zero-copy" "$here/guest-l2fwd.sh" "$bin/xdpbench" 2000 1000
# Moves eth0 into a namespace of its own: keep it last.
run_case "udp-echo (XDPService) in zero-copy" "$here/guest-udp-echo.sh" "$bin/udp-echo" 200
exit $failed
