#!/bin/sh
# Runs inside the lab guest (run-guest.sh, two virtio-net NICs back to back):
# xdpbench rxdrop on eth1 and txonly on eth0, both with --zero-copy required,
# an exact count, and checks that both sockets were bound in zero-copy mode
# (XDP_OPTIONS, as xdpbench reports it) and that every frame arrived. The
# sender is paced (20 kpps) and the receiver runs SCHED_FIFO, as the veth
# exact-count tests: unpaced, a TCG guest on a loaded host let the 2048-entry
# RX ring overflow (320 of 20000 in rx_ring_full, one CI run).
# Usage: guest-zerocopy.sh XDPBENCH [COUNT]
set -u
. "$(dirname "$0")/guest-lib.sh"
bench=$1
count=${2:-20000}
fail() { echo "FAIL: $*"; exit 1; }

for i in eth0 eth1; do ip link set "$i" up || fail "ip link set $i up"; done
# QEMU's virtio-net filters unicast by destination MAC: address eth1 itself.
dst=$(cat /sys/class/net/eth1/address)
echo "guest kernel $(uname -r), driver $(basename "$(readlink /sys/class/net/eth0/device/driver)")"

"$bench" inspect -i eth0 -i eth1 || fail "xdpbench inspect"

"$bench" rxdrop -i eth1 --count "$count" --duration 120 --zero-copy required --policy fifo --schpri 10 --json > rx.json 2> rx.err &
rx=$!
wait_sockets eth1 1 rx.err || exit 1
"$bench" txonly -i eth0 --count "$count" --duration 120 --rate 20000 --zero-copy required --dst-mac "$dst" --json > tx.json 2> tx.err
tx_rc=$?
wait $rx
rx_rc=$?
cat tx.err rx.err
if [ $tx_rc != 0 ] || [ $rx_rc != 0 ]; then
    echo "txonly exit $tx_rc: $(cat tx.json)"
    echo "rxdrop exit $rx_rc: $(cat rx.json)"
    fail "txonly exited $tx_rc, rxdrop exited $rx_rc"
fi

python3 - "$count" <<'PY' || exit 1
import json, sys
count = int(sys.argv[1])
ok = True
for name in ("tx", "rx"):
    r = json.load(open(name + ".json"))
    line = (f"{r['mode']} on {r['interface']}: bind {r['bind']}, attach {r.get('attach', 'no program')}, "
            f"{r['packets']} packets, " + ("frames conserved" if r["frames_conserved"] else "frames NOT conserved"))
    if r["bind"] != "zero-copy" or r["packets"] != count or not r["frames_conserved"]:
        print("FAIL:", line, f"(want zero-copy, {count} packets, frames conserved)"); ok = False
    else:
        print("PASS:", line)
sys.exit(0 if ok else 1)
PY
