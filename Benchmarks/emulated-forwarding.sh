#!/usr/bin/env bash
# xdpfwd xconnect in zero-copy and in copy mode against a Linux bridge, on
# emulated virtio-net NICs (the QEMU lab of scripts/emulated-nic, TCG): iperf3
# TCP between two hosts in namespaces inside the guest, offloads off; a boot
# per path and round (the same guest each time), paths in turn. Zero-copy exists on this machine
# only here: this is the run that shows what the copies cost.
# Usage: Benchmarks/emulated-forwarding.sh [ROUNDS] [SECONDS]   (root, after `make build` and `make deps`)
# Prints a table and the median ratios to the bridge.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
ROUNDS=${1:-3}
SECONDS_PER_PATH=${2:-3}
[ -x "$BIN/xdpfwd" ] || { echo "emulated-forwarding.sh: $BIN/xdpfwd not found (make build)" >&2; exit 1; }
kernel_dir=$("$ROOT/scripts/emulated-nic/fetch-guest-kernel.sh" --cached) || exit 1
modules=$kernel_dir/usr/lib/modules/$(basename "$kernel_dir")
declare -A results
failed=0
for round in $(seq "$ROUNDS"); do
    for path in zerocopy bridge copy; do
        out=$("$ROOT/scripts/emulated-nic/run-guest.sh" --nics 4 --hubs 2 --timeout 90 -- \
            sh "$ROOT/Benchmarks/guest-forwarding.sh" "$BIN/xdpfwd" $path "$SECONDS_PER_PATH" "$modules" 2>&1)
        rc=$?
        value=$(sed -n "s/^RESULT $path //p" <<<"$out")
        if [ $rc -ne 0 ] || ! grep -q '[1-9]' <<<"$value"; then
            # Counted and shown, not hidden: the path's figure is left out of the round.
            failed=$((failed + 1))
            echo "emulated-forwarding.sh: round $round, $path failed (exit $rc); the guest's output:" >&2
            tail -12 <<<"$out" >&2
            value=-
        fi
        results[$path]+="$value "
    done
done
grep -q '[0-9]' <<<"${results[bridge]}${results[zerocopy]}" || { echo "emulated-forwarding.sh: nothing measured" >&2; exit 1; }
echo "| path (iperf3 TCP A->B in the guest, ${SECONDS_PER_PATH} s, offloads off, virtio-net under TCG) | Gbit/s per round |"
echo "|---|---|"
echo "| xdpfwd xconnect, zero-copy | ${results[zerocopy]}|"
echo "| xdpfwd xconnect, copy mode | ${results[copy]}|"
echo "| Linux bridge | ${results[bridge]}|"
python3 - "${results[zerocopy]}" "${results[copy]}" "${results[bridge]}" <<'PY'
import statistics, sys
zc, copy, bridge = ([None if v == "-" else float(v) for v in arg.split()] for arg in sys.argv[1:])
def ratio(a, b):
    pairs = [x / y for x, y in zip(a, b) if x is not None and y]
    return statistics.median(pairs) if pairs else float("nan")
print(f"\nper round, median: zero-copy/bridge {ratio(zc, bridge):.2f}, copy/bridge {ratio(copy, bridge):.2f}, zero-copy/copy {ratio(zc, copy):.2f}")
PY
echo "paths that failed: $failed of $((ROUNDS * 3)) (shown as -)"
