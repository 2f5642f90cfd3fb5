#!/bin/sh
# Runs inside the emulated-NIC lab guest (four virtio-net NICs on two hubs,
# eth0-eth1 and eth2-eth3): iperf3 TCP from host A (eth0) to host B (eth3),
# each in a namespace of its own with offloads off (one packet per MTU),
# across eth1 <-> eth2 by one PATH: xdpfwd xconnect in copy mode (native
# XDP), a Linux bridge, or xdpfwd xconnect in zero-copy. One path per boot
# (Benchmarks/emulated-forwarding.sh boots one per path and round): a socket
# bound again on a port where one was torn down can stall virtio-net's TX
# queue in this lab (docs/zero-copy.md). Prints "RESULT PATH GBIT/S".
# Usage: guest-forwarding.sh XDPFWD copy|bridge|zerocopy SECONDS MODULES_DIR
#   MODULES_DIR: the guest kernel's modules (the bridge is loaded from there
#   for the bridge path only; the lab's initramfs does not carry it)
set -u
xdpfwd=$1
path=$2
seconds=${3:-3}
modules=${4:-}
a=fwa$$ b=fwb$$
fwd= server=
fail() { echo "FAIL: $*"; exit 1; }
stop_forwarder() {
    [ -n "$fwd" ] && kill -TERM "$fwd" 2>/dev/null && wait "$fwd"
    fwd=
    ip link del br$$ 2>/dev/null
    true
}
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    stop_forwarder
    ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null
    ip link set eth1 promisc off 2>/dev/null; ip link set eth2 promisc off 2>/dev/null
}
trap cleanup EXIT

for i in eth0 eth1 eth2 eth3; do [ -e /sys/class/net/$i ] || fail "no $i (run-guest.sh --nics 4 --hubs 2)"; done
ip netns add "$a" && ip netns add "$b" || fail "ip netns add"
ip link set eth0 netns "$a" && ip link set eth3 netns "$b" || fail "move eth0, eth3 into the hosts' namespaces"
ip -n "$a" addr add 198.18.0.1/24 dev eth0 && ip -n "$a" link set eth0 up && ip -n "$a" link set lo up || fail "host A"
ip -n "$b" addr add 198.18.0.2/24 dev eth3 && ip -n "$b" link set eth3 up && ip -n "$b" link set lo up || fail "host B"
for h in "$a eth0" "$b eth3"; do
    set -- $h
    ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off > /dev/null 2>&1 || fail "offloads off on $2"
done
ip addr flush dev eth1 && ip addr flush dev eth2 && ip link set eth1 up && ip link set eth2 up || fail "middle ports"
ip link set eth1 promisc on && ip link set eth2 promisc on || fail "promiscuous ports"

start_xdpfwd() { # $1 = required | off
    cat > fwd.yaml <<YAML
mode: xconnect
ports:
  - interface: eth1
  - interface: eth2
zero_copy: $1
attach: native
metrics: "off"
control_socket: "off"
YAML
    "$xdpfwd" run --config fwd.yaml > fwd.out 2>&1 &
    fwd=$!
    for _ in $(seq 1 200); do grep -q "xdpfwd xconnect:" fwd.out && break; kill -0 $fwd 2>/dev/null || break; sleep 0.1; done
    grep -q "xdpfwd xconnect:" fwd.out || { cat fwd.out; fail "xdpfwd did not start"; }
    want=zero-copy; [ "$1" = off ] && want="copy mode"
    grep "xdpfwd xconnect:" fwd.out | grep -q "$want" || { cat fwd.out; fail "xdpfwd not in $want"; }
}
start_bridge() {
    if [ ! -d /sys/module/bridge ]; then
        for m in net/llc/llc net/802/stp net/bridge/bridge; do
            xz -dc "$modules/kernel/$m.ko.xz" > module.ko && busybox insmod module.ko || fail "insmod $m from $modules"
        done
    fi
    ip link add br$$ type bridge && ip link set eth1 master br$$ && ip link set eth2 master br$$ && ip link set br$$ up || fail "bridge"
}
measure() { # prints Gbit/s
    ip netns exec "$a" ping -c 3 -i 0.2 -W 3 -q 198.18.0.2 > /dev/null 2>&1
    ip netns exec "$b" iperf3 -s -1 -p 5201 > /dev/null 2>&1 &
    server=$!
    sleep 0.5
    timeout $((seconds + 15)) ip netns exec "$a" iperf3 -c 198.18.0.2 -p 5201 -t "$seconds" -J > iperf.json 2> iperf.err
    kill "$server" 2>/dev/null; wait "$server"; server=
    python3 -c 'import json; print(round(json.load(open("iperf.json"))["end"]["sum_received"]["bits_per_second"] / 1e9, 3))' 2>/dev/null \
        || { echo 0; { echo "iperf3 failed:"; tail -3 iperf.err; dmesg | tail -5; } >&2; }
}

case $path in
    copy) start_xdpfwd off ;;
    bridge) start_bridge ;;
    zerocopy) start_xdpfwd required ;;
    *) fail "path $path (copy, bridge or zerocopy)" ;;
esac
echo "RESULT $path $(measure)"
