#!/bin/sh
# Runs inside the lab guest with four igb NICs on two hubs (eth0-eth1,
# eth2-eth3): xdpfwd xconnect between eth1 and eth2 in zero-copy with the
# plan's system changes for real: channels set to 1 (ETHTOOL_SCHANNELS) and
# each queue's interrupt steered to its worker (irq_affinity: same-cpu), both
# undone at exit. Traffic: txonly on eth0 -> xdpfwd -> rxdrop on eth3, COUNT
# frames paced at 1000/s, exact; sender and sink in copy mode (the emulated igb
# drops what arrives while its RX ring is empty: a burst loses frames).
# Usage: guest-igb-xdpfwd.sh BIN_DIR [COUNT]
set -u
. "$(dirname "$0")/guest-lib.sh"
bin=$1
count=${2:-2000}
fail() { echo "FAIL: $*"; exit 1; }
fwd=
trap '[ -n "$fwd" ] && kill -TERM $fwd 2>/dev/null && wait $fwd' EXIT

for i in eth0 eth1 eth2 eth3; do ip link set "$i" up || fail "no $i (run-guest.sh --model igb --nics 4 --hubs 2)"; done
ip link set eth3 promisc on    # xconnect sends frames on unchanged
combined() { ethtool -l "$1" | awk '/Current hardware settings/ {c = 1} c && /^Combined/ {print $2; exit}'; }
# The affinities of the ports' queue interrupts, as a set (a channel change gives new IRQ numbers).
affinities() { for p in eth1 eth2; do grep -E " $p-(rx|tx|TxRx)-[0-9]+\$" /proc/interrupts | awk '{print $1}' | tr -d : | while read -r irq; do cat /proc/irq/$irq/smp_affinity_list; done; done | sort -u | tr '\n' ' '; }
before_channels="$(combined eth1) $(combined eth2)"
before_affinity=$(affinities)

cat > xdpfwd.yaml <<YAML
mode: xconnect
ports:
  - interface: eth1
  - interface: eth2
zero_copy: ${FWD_ZERO_COPY:-required}
metrics: "off"
irq_affinity: same-cpu
channels: 1
YAML
"$bin/xdpfwd" run --config xdpfwd.yaml > fwd.out 2>&1 &
fwd=$!
for _ in $(seq 1 600); do grep -q 'xdpfwd xconnect:' fwd.out && break; kill -0 $fwd 2>/dev/null || break; sleep 0.1; done
grep -q 'xdpfwd xconnect:' fwd.out || { cat fwd.out; fail "xdpfwd did not start"; }
grep -E 'system change|xdpfwd xconnect|plan:' fwd.out | sed 's/^.*info xdpfwd: \(\[[a-z_]*\] \)\{0,1\}/  /'
during_channels="$(combined eth1) $(combined eth2)"
# Each queue's RX interrupt on its worker's CPU, as the log says it was set.
steered=ok
for irq_cpu in $(grep -oE 'proc/irq/[0-9]+/smp_affinity_list: [0-9,-]+ -> [0-9]+' fwd.out | sed -E 's|proc/irq/([0-9]+)/smp_affinity_list: [0-9,-]+ -> ([0-9]+)|\1:\2|'); do
    irq=${irq_cpu%%:*} cpu=${irq_cpu##*:}
    [ "$(cat /proc/irq/$irq/smp_affinity_list)" = "$cpu" ] || steered="irq $irq is on $(cat /proc/irq/$irq/smp_affinity_list), not $cpu"
done
steered_count=$(grep -cE 'proc/irq/[0-9]+/smp_affinity_list' fwd.out)

"$bin/xdpbench" rxdrop -i eth3 -q 0-1 --count "$count" --duration "${FWD_DURATION:-30}" --zero-copy off --json > sink.json 2> sink.err &
sink=$!
wait_sockets eth3 2 sink.err || exit 1
"$bin/xdpbench" txonly -i eth0 --count "$count" --duration "${FWD_DURATION:-30}" --rate 1000 --zero-copy off --dst-mac "$(cat /sys/class/net/eth1/address)" --json > tx.json 2> tx.err
wait $sink; sink_rc=$?
for p in eth0 eth1 eth2 eth3; do echo "  $p: $(ip -s link show $p | awk '/RX:/ {getline; r=$2} /TX:/ {getline; t=$2} END {print "rx " r " tx " t}')"; done
kill -TERM $fwd; wait $fwd; fwd_rc=$?; fwd=
after_channels="$(combined eth1) $(combined eth2)"
after_affinity=$(affinities)
grep -E 'stopped|undo|restored' fwd.out | sed 's/^.*info xdpfwd: \(\[[a-z_]*\] \)\{0,1\}/  /'

python3 - "$count" "$sink_rc" "$fwd_rc" "$before_channels" "$during_channels" "$after_channels" "$steered" "$steered_count" "$before_affinity" "$after_affinity" <<'PY' || { cat fwd.out; exit 1; }
import json, sys
count, sink_rc, fwd_rc, before, during, after, steered, steered_count, aff_before, aff_after = sys.argv[1:]
count = int(count)
ok = True
def check(good, text):
    global ok
    ok &= good
    print(("PASS: " if good else "FAIL: ") + text)
log = open("fwd.out").read()
check("zero-copy" in log.split("xdpfwd xconnect:")[1].split("\n")[0], "xdpfwd xconnect eth1 <-> eth2 in zero-copy")
check(during == "1 1" and before == after and before != during,
      f"channels (combined) of eth1 eth2: {before} before, {during} while running, {after} after")
check(steered == "ok" and int(steered_count) > 0, f"{steered_count} queue interrupt(s) steered to their workers ({steered})")
check(aff_before == aff_after, f"queue IRQ affinity at exit as before: {aff_after.strip()} (before: {aff_before.strip()})")
sink = json.load(open("sink.json"))
check(sink_rc == "0" and sink["packets"] == count,
      f"rxdrop on eth3: {sink['packets']} of {count} through xdpfwd, bind {sink['bind']}")
check(fwd_rc == "0", f"xdpfwd exit {fwd_rc} on SIGTERM")
sys.exit(0 if ok else 1)
PY
