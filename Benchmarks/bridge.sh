#!/usr/bin/env bash
# The async bridge (PacketStream) against the pinned-worker path (PacketService),
# both answering UDP through udp-echo on the same lab, same run, A B A B:
#   throughput: xdpbench txonly floods UDP port 9 for D seconds from the peer
#               namespace (CPU 0); udp-echo runs on CPU 1; what it echoed per second;
#   latency:    a Python client sends 2000 datagrams one at a time; median and
#               99th percentile round trip (kernel UDP socket on the client side).
# Usage: Benchmarks/bridge.sh [runs] [seconds]   (after `make build`; as root; on a quiet machine)
set -uo pipefail
BIN=${BIN:-.build/release}
RUNS=${1:-2}
SECONDS_PER_RUN=${2:-5}
LAB=xl$(printf %x $$)x0   # a VethLab-style name: make lab-clean and VethLab.removeStale know it
P=${LAB}p D=${LAB}d
echo_pid=
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    if [ -n "$echo_pid" ]; then kill -TERM "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null; fi
    echo_pid=
    "$BIN/xdpbench" lab down --name "$LAB" >/dev/null 2>&1
}
trap cleanup EXIT
"$BIN/xdpbench" lab up --name "$LAB" >/dev/null || exit 1
ip netns exec $P ethtool -K ${LAB}p0 tx off >/dev/null
DMAC=$(ip -n $D -o link show ${LAB}d0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

start_echo() { # $1 = pinned | async
    local flag=; [ "$1" = async ] && flag=--async
    "$BIN/udp-echo" -i ${LAB}d0 --port 9 --cpus 1 --netns $D $flag 2>/dev/null > /tmp/$LAB.echo.json & echo_pid=$!
    for _ in $(seq 50); do ip -n $D link show ${LAB}d0 | grep -q xdp && break; sleep 0.1; done
    sleep 0.3
}
stop_echo() { kill -INT "$echo_pid"; wait "$echo_pid" 2>/dev/null; echo_pid=; }

throughput() { # prints echoed packets per second and the echo's counters
    "$BIN/xdpbench" txonly --netns $P -i ${LAB}p0 --dst-mac "$DMAC" --dst-ip 198.18.0.2 --src-ip 198.18.0.1 \
        --cpus 0 -d "$SECONDS_PER_RUN" --json >/tmp/$LAB.tx.json 2>/dev/null
    stop_echo
    python3 - "$SECONDS_PER_RUN" /tmp/$LAB.echo.json /tmp/$LAB.tx.json <<'PY'
import json, sys
seconds, echo = float(sys.argv[1]), json.load(open(sys.argv[2]))
offered = json.load(open(sys.argv[3])).get("pps", 0)
print(f'{echo["transmitted"]/seconds/1e6:.3f} Mpps echoed of {offered/1e6:.3f} offered '
      f'(received {echo["received"]}, dropped for the consumer {echo["dropped_slow_consumer"]}, frames held {echo["frames_held"]})')
PY
}

latency() {
    ip netns exec $P python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
rtts = []
for i in range(2000):
    t = time.perf_counter_ns(); s.sendto(b"x" * 32, ("198.18.0.2", 9))
    try: s.recvfrom(2048); rtts.append((time.perf_counter_ns() - t) / 1000)
    except socket.timeout: pass
rtts.sort()
print(f"rtt median {rtts[len(rtts)//2]:.1f} us, p99 {rtts[int(len(rtts)*0.99)]:.1f} us ({len(rtts)}/2000 answered)" if rtts else "no answers")
PY
}

for run in $(seq "$RUNS"); do
    for mode in pinned async; do
        start_echo $mode; echo -n "run $run $mode throughput: "; throughput
        start_echo $mode; echo -n "run $run $mode latency:    "; latency; stop_echo
    done
done
rm -f /tmp/$LAB.echo.json /tmp/$LAB.tx.json
