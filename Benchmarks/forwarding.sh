#!/usr/bin/env bash
# iperf3 TCP A -> B (3 s, veth offloads off on the hosts: one packet per MTU)
# through xdpfwd xconnect, xdpfwd l3, a Linux bridge, and kernel IP forwarding,
# all on the same lab, plus xdpbench txonly -> xdpfwd l3 -> xdpbench rxdrop pps.
# Usage: Benchmarks/forwarding.sh [runs]   (after `make build`)
set -uo pipefail
BIN=${BIN:-.build/release}
RUNS=${1:-2}
LAB=xz A=xzp B=xzq D=xzd
daemon=
cleanup() { [ "$BASHPID" = "$$" ] || return 0; [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null; daemon=; "$BIN/xdpbench" lab down --name $LAB >/dev/null 2>&1; }
trap cleanup EXIT

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
start_daemon() { "$BIN/xdpfwd" run --mode $1 -i ${LAB}d0 -i ${LAB}d1 --netns $D --metrics off 2>/dev/null & daemon=$!; for _ in $(seq 50); do ip -n $D link show ${LAB}d1 | grep -q xdp && break; sleep 0.1; done; }

declare -A results
for run in $(seq "$RUNS"); do
    lab bridge; start_daemon xconnect; r=$(iperf); results[xconnect]+="$r "; cleanup
    lab router; start_daemon l3; r=$(iperf); results[l3]+="$r "
    dmac=$(ip -n $D -o link show ${LAB}d0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
    "$BIN/xdpbench" rxdrop --netns $B -i ${LAB}p1 -d 6 --json >/tmp/fwd-rx.json 2>/dev/null & rx=$!
    sleep 1
    "$BIN/xdpbench" txonly --netns $A -i ${LAB}p0 --dst-mac $dmac --dst-ip 198.18.1.1 -d 4 --json >/tmp/fwd-tx.json 2>/dev/null
    wait $rx
    results[pps]+="$(python3 -c 'import json; t=json.load(open("/tmp/fwd-tx.json")); r=json.load(open("/tmp/fwd-rx.json")); print("%.3f/%.3f" % (r["packets"]/4/1e6, t["pps"]/1e6))') "
    cleanup
    lab bridge
    ip -n $D link add xzbr type bridge; ip -n $D link set ${LAB}d0 master xzbr; ip -n $D link set ${LAB}d1 master xzbr; ip -n $D link set xzbr up
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
