#!/bin/sh
# Runs inside the lab guest (two virtio-net NICs back to back): txonly on eth0
# -> rxdrop on eth1, both --zero-copy required, COUNT frames, in the modes the
# socket has: need_wakeup off, poll() every batch, preferred busy-poll,
# 1500-byte packets in 2048-byte frames, unaligned 3000-byte chunks; each run
# also tears the sockets down and binds again. Then what the driver cannot do
# must be refused with the probe's reason: multi-buffer in zero-copy
# (xdp-zc-max-segs 1). Also STAT_FILL_EMPTY in zero-copy (a 64-frame UMEM).
# Usage: guest-variants.sh XDPBENCH [COUNT]
set -u
. "$(dirname "$0")/guest-lib.sh"
bench=$1
count=${2:-2000}
failed=0
for i in eth0 eth1; do ip link set "$i" up; done
dst=$(cat /sys/class/net/eth1/address)

variant() {
    name=$1 both=$2 duration=$3 txonly_only=${4:-}
    "$bench" rxdrop -i eth1 --count "$count" --duration "$duration" --zero-copy required --json $both > rx.json 2> rx.err &
    rx=$!
    wait_sockets eth1 1 rx.err || { failed=$((failed + 1)); wait $rx; return; }
    "$bench" txonly -i eth0 --count "$count" --duration "$duration" --zero-copy required --dst-mac "$dst" --json $both $txonly_only > tx.json 2> tx.err
    tx_rc=$?
    wait $rx
    rx_rc=$?
    python3 - "$name" "$count" "$tx_rc" "$rx_rc" <<'PY' || { failed=$((failed + 1)); cat rx.err tx.err; }
import json, sys
name, count, tx_rc, rx_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tx, rx = json.load(open("tx.json")), json.load(open("rx.json"))
invalid = tx["xdp_statistics"]["tx_invalid_descs"]
zc = tx["bind"] == rx["bind"] == "zero-copy"
conserved = tx["frames_conserved"] and rx["frames_conserved"]
# Unaligned chunks that cross a 4 KiB page of a UMEM on ordinary pages are
# invalid in zero-copy (the pages need not be contiguous): the kernel counts
# and completes them without sending. Every frame is either received or counted.
good = zc and conserved and tx_rc == 0 and tx["packets"] == count and rx["packets"] + invalid == count \
       and (rx_rc == 0 if invalid == 0 else True)
note = f", {invalid} invalid TX descriptors (chunks crossing a page)" if invalid else ""
print(("PASS: " if good else "FAIL: ") + f"{name}: bind {tx['bind']}/{rx['bind']}, sent {tx['packets']}, received {rx['packets']} of {count}{note}")
if not good:
    print(f"  receiver: program {rx.get('program')}, statistics {rx.get('xdp_statistics')}; sender: statistics {tx.get('xdp_statistics')}")
sys.exit(0 if good else 1)
PY
}

variant "need_wakeup off" "--no-need-wakeup" 60
variant "poll() every batch" "--poll" 60
variant "preferred busy-poll" "--busy-poll" 60
variant "1500-byte packets in 2048-byte frames" "--frame-size 2048" 60 "--packet-size 1500"
variant "unaligned 3000-byte chunks" "--unaligned --frame-size 3000" 30

# STAT_FILL_EMPTY in zero-copy: a 64-frame UMEM cannot keep virtio's 256-entry
# RX queue stocked under an unpaced burst: the kernel counts the empty fill
# ring (rx_fill_ring_empty_descs), the driver asks for a wakeup (need_wakeup
# on the fill ring), and every frame still arrives (the hub holds them back).
"$bench" rxdrop -i eth1 --count "$count" --duration 30 --zero-copy required --frames 64 --json > rx.json 2> rx.err &
rx=$!
if wait_sockets eth1 1 rx.err; then
    "$bench" txonly -i eth0 --count "$count" --duration 30 --zero-copy required --dst-mac "$dst" --json > tx.json 2> tx.err
    tx_rc=$?
    wait $rx
    rx_rc=$?
    python3 - "$count" "$tx_rc" "$rx_rc" <<'PY2' || { failed=$((failed + 1)); cat rx.err tx.err; }
import json, sys
count, tx_rc, rx_rc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
tx, rx = json.load(open("tx.json")), json.load(open("rx.json"))
stats = rx["xdp_statistics"]
wakeups = sum(q["app_stats"]["rx_wakeups"] for q in rx["per_queue"])
good = tx_rc == rx_rc == 0 and tx["bind"] == rx["bind"] == "zero-copy" and rx["packets"] == count \
       and stats["rx_fill_ring_empty_descs"] > 0 and stats["rx_dropped"] == 0 and wakeups > 0 and rx["frames_conserved"]
print(("PASS: " if good else "FAIL: ") + f"fill ring empty in zero-copy (64-frame UMEM, unpaced): received {rx['packets']} of {count}, "
      f"rx_fill_ring_empty_descs {stats['rx_fill_ring_empty_descs']}, rx_dropped {stats['rx_dropped']}, fill-ring wakeups {wakeups}")
sys.exit(0 if good else 1)
PY2
else
    failed=$((failed + 1)); wait $rx
fi

if "$bench" rxdrop -i eth1 --count 10 --duration 3 --zero-copy required --multi-buffer > mb.out 2>&1; then
    echo "FAIL: multi-buffer in zero-copy was accepted"; failed=$((failed + 1))
elif grep -q 'xdp-zc-max-segs 1' mb.out; then
    echo "PASS: multi-buffer in zero-copy refused: $(grep -o 'multi-buffer (XDP_USE_SG) refused.*' mb.out)"
else
    echo "FAIL: multi-buffer in zero-copy refused without the probe's reason:"; cat mb.out; failed=$((failed + 1))
fi
exit $failed
