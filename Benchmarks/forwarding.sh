#!/usr/bin/env bash
# iperf3 TCP A -> B (3 s, veth offloads off on the hosts: one packet per MTU)
# through xdpfwd xconnect, xdpfwd l3, a Linux bridge, and kernel IP forwarding,
# all on the same lab, plus xdpbench txonly -> xdpfwd l3 -> xdpbench rxdrop pps.
# Usage: Benchmarks/forwarding.sh [runs]   (root, after `make build`)
#   XDPFWD_FLAGS="--busy-poll" Benchmarks/forwarding.sh 2   # extra xdpfwd run flags
# Prints a table and, last, the median xdpfwd/bridge ratios.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
RUNS=${1:-2}
# Unique names (other labs may be up beside this one); interface names stay under 16 bytes.
LAB=xz$(( $$ % 100000 ))
A=${LAB}p B=${LAB}q D=${LAB}d BR=${LAB}br
OUT=$(mktemp -d /tmp/xdp-forwarding.XXXXXX)
daemon=
for tool in iperf3 ethtool "$BIN/xdpfwd" "$BIN/xdpbench"; do
    command -v "$tool" >/dev/null || { echo "forwarding.sh: $tool not found (make build; apt-get install iperf3 ethtool)" >&2; exit 1; }
done
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; fi
    daemon=
    "$BIN/xdpbench" lab down --name $LAB >/dev/null 2>&1
}
trap 'cleanup; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

lab() { # $1 = bridge | router
    local mode=$1
    cleanup
    "$BIN/xdpbench" lab up --name $LAB --links 2 --separate-hosts >/dev/null
    for h in "$A ${LAB}p0" "$B ${LAB}p1"; do set -- $h; ip netns exec $1 ethtool -K $2 tx off tso off gso off gro off >/dev/null; done
    if [ "$mode" = bridge ]; then
        ip -n $B addr flush dev ${LAB}p1; ip -n $B addr add 198.18.0.3/24 dev ${LAB}p1
        ip -n $D addr flush dev ${LAB}d0; ip -n $D addr flush dev ${LAB}d1
        DST=198.18.0.3
    else
        ip -n $A route add 198.18.1.0/24 via 198.18.0.2; ip -n $B route add 198.18.0.0/24 via 198.18.1.2
        ip netns exec $D sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
        DST=198.18.1.1
    fi
}
iperf() {
    ip netns exec $A ping -c 3 -i 0.1 -q $DST >/dev/null
    ip netns exec $B iperf3 -s -1 -p 5201 >/dev/null 2>&1 & local server=$!
    sleep 0.3
    ip netns exec $A iperf3 -c $DST -p 5201 -t 3 -J 2>/dev/null | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))' 2>/dev/null || echo 0
    wait $server
}
start_daemon() {
    # shellcheck disable=SC2086 # XDPFWD_FLAGS: words
    "$BIN/xdpfwd" run --mode $1 -i ${LAB}d0 -i ${LAB}d1 --netns $D --metrics off --control-socket off ${XDPFWD_FLAGS:-} 2>"$OUT/xdpfwd.log" & daemon=$!
    for _ in $(seq 50); do ip -n $D link show ${LAB}d1 | grep -q xdp && return 0; sleep 0.1; done
    echo "forwarding.sh: xdpfwd $1 did not attach; its log:" >&2; tail -5 "$OUT/xdpfwd.log" >&2
}

declare -A results
for run in $(seq "$RUNS"); do
    lab bridge; start_daemon xconnect; r=$(iperf); results[xconnect]+="$r "; cleanup
    lab router; start_daemon l3; r=$(iperf); results[l3]+="$r "
    dmac=$(ip -n $D -o link show ${LAB}d0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
    "$BIN/xdpbench" rxdrop --netns $B -i ${LAB}p1 -d 6 --json >"$OUT/rx.json" 2>/dev/null & rx=$!
    sleep 1
    "$BIN/xdpbench" txonly --netns $A -i ${LAB}p0 --dst-mac $dmac --dst-ip 198.18.1.1 -d 4 --json >"$OUT/tx.json" 2>/dev/null
    wait $rx
    results[pps]+="$(python3 -c 'import json, sys
def last(path):
    for line in reversed(open(path).read().strip().splitlines() or [""]):
        try: return json.loads(line)
        except ValueError: pass
    return {}
t, r = last(sys.argv[1] + "/tx.json"), last(sys.argv[1] + "/rx.json")
print("%.3f/%.3f" % (r.get("packets", 0) / 4 / 1e6, t.get("pps", 0) / 1e6))' "$OUT") "
    cleanup
    lab bridge
    ip -n $D link add $BR type bridge; ip -n $D link set ${LAB}d0 master $BR; ip -n $D link set ${LAB}d1 master $BR; ip -n $D link set $BR up
    r=$(iperf); results[bridge]+="$r "; cleanup
    lab router; r=$(iperf); results[kernel]+="$r "; cleanup
done
echo "| path (iperf3 TCP A->B, 3 s, host offloads off) | Gbit/s per run |"
echo "|---|---|"
echo "| xdpfwd xconnect | ${results[xconnect]}|"
echo "| xdpfwd l3 | ${results[l3]}|"
echo "| Linux bridge | ${results[bridge]}|"
echo "| kernel IP forwarding | ${results[kernel]}|"
echo
echo "xdpbench txonly -> xdpfwd l3 -> xdpbench rxdrop, Mpps received/offered per run: ${results[pps]}"
python3 -c 'import statistics, sys
xconnect, l3, bridge = ([float(v) for v in a.split()] for a in sys.argv[1:4])
b = statistics.median(bridge) if bridge else 0
for name, values in (("xconnect", xconnect), ("l3", l3)):
    print(f"xdpfwd {name}/bridge (medians): {statistics.median(values) / b:.2f}" if values and b > 0 else f"xdpfwd {name}/bridge: no bridge result")' \
    "${results[xconnect]}" "${results[l3]}" "${results[bridge]}"
