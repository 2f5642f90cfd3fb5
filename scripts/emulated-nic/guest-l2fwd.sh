#!/bin/sh
# Runs inside the lab guest with four virtio-net NICs on two hubs (eth0-eth1,
# eth2-eth3): txonly on eth0 -> l2fwd on eth1 --to eth2 (one UMEM shared by
# both ports) -> rxdrop on eth3, every socket --zero-copy required, COUNT
# frames paced at RATE per second, or unpaced (RATE 0: one burst, which
# stalled the forwarder while its idle port hoarded the UMEM's frames; see
# docs/zero-copy.md); exact counts end to end, frames conserved.
# Usage: guest-l2fwd.sh XDPBENCH [COUNT] [RATE]
set -u
. "$(dirname "$0")/guest-lib.sh"
bench=$1
count=${2:-2000}
rate=${3:-1000}
for i in eth0 eth1 eth2 eth3; do ip link set "$i" up || { echo "FAIL: no $i (run-guest.sh --nics 4 --hubs 2)"; exit 1; }; done
# l2fwd --to sends the frames on unchanged: eth3 must take any destination.
ip link set eth3 promisc on

"$bench" rxdrop -i eth3 --count "$count" --duration 30 --zero-copy required --json > sink.json 2> sink.err &
sink=$!
"$bench" l2fwd -i eth1 --to eth2 --count "$count" --duration 30 --zero-copy required --json > fwd.json 2> fwd.err &
fwd=$!
wait_sockets eth3 1 sink.err && wait_sockets eth1 1 fwd.err && wait_sockets eth2 1 || exit 1
pace="--rate $rate"; [ "$rate" = 0 ] && pace=
"$bench" txonly -i eth0 --count "$count" --duration 30 $pace --zero-copy required \
    --dst-mac "$(cat /sys/class/net/eth1/address)" --json > tx.json 2> tx.err
tx_rc=$?
wait $fwd; fwd_rc=$?
wait $sink; sink_rc=$?
cat tx.err fwd.err sink.err
python3 - "$count" "$rate" "$tx_rc" "$fwd_rc" "$sink_rc" <<'PY' || exit 1
import json, sys
count, rate, rcs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
runs = [json.load(open(f)) for f in ("tx.json", "fwd.json", "sink.json")]
line = ", ".join(f"{r['mode']} {r['interface']} {r['bind']} {r['packets']}" for r in runs)
good = rcs == ["0", "0", "0"] and all(r["bind"] == "zero-copy" and r["packets"] == count and r["frames_conserved"] for r in runs)
pace = "unpaced" if rate == "0" else f"paced at {rate}/s"
print(("PASS: " if good else "FAIL: ") + f"l2fwd --to over one UMEM, {count} frames {pace}: {line}" + ("" if good else f", exits {rcs}"))
if not good:
    for r in runs: print(f"  {r['mode']} {r['interface']}: statistics {r.get('xdp_statistics')}, frames {[q.get('frames') for q in r['per_queue']]}")
sys.exit(0 if good else 1)
PY
