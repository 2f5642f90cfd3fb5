#!/usr/bin/env bash
# make demo: xdpfwd routing between two hosts on the built-in veth lab.
#   host A (netns xwp) -- veth -- [xdpfwd l3, netns xwd] -- veth -- host B (netns xwq)
# Pushes ping, iperf3 and xdpbench traffic through the daemon, prints what
# was forwarded and the daemon's own counters, and tears everything down.
set -uo pipefail
BIN=${BIN:-.build/release}
LAB=xw
A=${LAB}p B=${LAB}q D=${LAB}d
METRICS=127.0.0.1:9119
daemon=
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    "$BIN/xdpbench" lab down --name $LAB >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

metric() { # name{labels} -> value
    python3 - "$1" <<'PY'
import sys, urllib.request
want = sys.argv[1]
text = urllib.request.urlopen("http://127.0.0.1:9119/metrics", timeout=2).read().decode()
print(next((l.split()[-1] for l in text.splitlines() if l.startswith(want + " ")), "0"))
PY
}

"$BIN/xdpbench" lab down --name $LAB >/dev/null 2>&1
"$BIN/xdpbench" lab up --name $LAB --links 2 --separate-hosts >/dev/null || exit 1
ip -n $A route add 198.18.1.0/24 via 198.18.0.2
ip -n $B route add 198.18.0.0/24 via 198.18.1.2
# The hosts keep their default offloads (partial checksums, as any container
# sends), and the router namespace its default net.ipv4.ip_forward=0:
# --enable-forwarding switches forwarding on for the run and back at exit.
"$BIN/xdpfwd" run --mode l3 -i ${LAB}d0 -i ${LAB}d1 --netns $D --metrics $METRICS --enable-forwarding 2>/tmp/xdpfwd-demo.log &
daemon=$!
for _ in $(seq 50); do ip -n $D link show ${LAB}d1 | grep -q xdp && break; sleep 0.1; done
echo "xdpfwd l3 running (pid $daemon): $(grep -o 'xdpfwd l3:.*' /tmp/xdpfwd-demo.log | head -1)"

ping_out=$(ip netns exec $A ping -c 100 -i 0.01 -W 1 -q 198.18.1.1)
ping_rx=$(echo "$ping_out" | grep -o '[0-9]* received' | cut -d' ' -f1)
ping_rtt=$(echo "$ping_out" | grep -o 'rtt[^=]*= [0-9.]*/[0-9.]*' | cut -d/ -f5)

ip netns exec $B iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
sleep 0.3
iperf_bps=$(ip netns exec $A iperf3 -c 198.18.1.1 -p 5201 -t 3 -J 2>/dev/null | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))' 2>/dev/null || echo 0)

dmac=$(ip -n $D -o link show ${LAB}d0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
count=200000
"$BIN/xdpbench" rxdrop --netns $B -i ${LAB}p1 --count $count -d 20 --json >/tmp/xdpfwd-demo-rx.json 2>/dev/null &
rx=$!
sleep 1
"$BIN/xdpbench" txonly --netns $A -i ${LAB}p0 --dst-mac $dmac --src-ip 198.18.0.1 --dst-ip 198.18.1.1 --count $count --rate 150000 --json >/tmp/xdpfwd-demo-tx.json 2>/dev/null
wait $rx
sent=$(python3 -c 'import json; print(json.load(open("/tmp/xdpfwd-demo-tx.json"))["packets"])' 2>/dev/null || echo 0)
received=$(python3 -c 'import json; print(json.load(open("/tmp/xdpfwd-demo-rx.json"))["packets"])' 2>/dev/null || echo 0)
rxpps=$(python3 -c 'import json; d=json.load(open("/tmp/xdpfwd-demo-rx.json")); print(round(d["pps"]/1e6,3))' 2>/dev/null || echo 0)

fwd_a=$(metric "xdpfwd_rx_packets_total{port=\"${LAB}d0\",queue=\"0\"}")
fwd_b=$(metric "xdpfwd_tx_packets_total{port=\"${LAB}d1\",queue=\"0\"}")
passed=$(metric "xdpfwd_program_packets_total{port=\"${LAB}d0\",decision=\"router_passed\"}")
held=$(metric "xdpfwd_frames{worker=\"0\",place=\"held\"}")

printf '\n%-44s %s\n' "what" "result"
printf '%-44s %s\n' "ping A -> B through xdpfwd l3" "$ping_rx/100 replies, avg rtt ${ping_rtt:-?} ms"
printf '%-44s %s\n' "iperf3 TCP A -> B, 3 s (default offloads)" "$iperf_bps Gbit/s"
printf '%-44s %s\n' "xdpbench txonly A -> xdpfwd -> rxdrop B" "sent $sent, received $received ($rxpps Mpps, paced)"
printf '%-44s %s\n' "xdpfwd: received on ${LAB}d0 / sent on ${LAB}d1" "$fwd_a / $fwd_b"
printf '%-44s %s\n' "xdpfwd: left to the kernel (ARP, first hops)" "$passed"
printf '%-44s %s\n' "xdpfwd: frames held (conservation)" "$held"
echo
[ "$ping_rx" = 100 ] && [ "$received" = "$sent" ] && echo "demo OK: every packet went through the userspace fast path and arrived" || { echo "demo: something was lost, see /tmp/xdpfwd-demo.log"; exit 1; }
