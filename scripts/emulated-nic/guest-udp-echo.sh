#!/bin/sh
# Runs inside the lab guest (two virtio-net NICs back to back): the udp-echo
# example (XDPService, pinned workers) on eth1 with --zero-copy required, and
# a client in a network namespace of its own behind eth0 sending COUNT UDP
# datagrams through the kernel stack; every one must come back with its
# payload, the service must report them all, and no frame may be held.
# Usage: guest-udp-echo.sh UDP_ECHO [COUNT]
set -u
echo_bin=$1
count=${2:-200}
ns=xz$$
pid=
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
    [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT

ip netns add "$ns" || fail "ip netns add $ns"
ip link set eth0 netns "$ns" || fail "move eth0 into $ns"
ip -n "$ns" addr add 198.18.0.1/24 dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up || fail "client address"
ip addr add 198.18.0.2/24 dev eth1 && ip link set eth1 up || fail "server address"

"$echo_bin" -i eth1 --port 7007 --zero-copy required > echo.json 2> echo.log &
pid=$!
for _ in $(seq 1 600); do
    grep -q 'udp-echo on port' echo.log && break
    kill -0 "$pid" 2>/dev/null || { cat echo.log; fail "udp-echo exited during setup"; }
    sleep 0.1
done
grep 'udp-echo on port' echo.log || { cat echo.log; fail "udp-echo not ready after 60 s"; }

ip netns exec "$ns" python3 - "$count" <<'PY' || { cat echo.log; fail "echo client"; }
import socket, sys, time
count = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 0))
# Each datagram waits up to 10 s for its echo (TCG on a loaded host can be
# slow); an echo that comes late, after the next datagram went, still counts
# for its own datagram, so one slow answer does not fail the rest.
sent = {}
echoed = set()
for i in range(count):
    payload = b"zc-echo %06d " % i + bytes(range(64))
    sent[payload] = i
    s.sendto(payload, ("198.18.0.2", 7007))
    deadline = time.monotonic() + 10
    while i not in echoed and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            break
        if data in sent and peer == ("198.18.0.2", 7007):
            echoed.add(sent[data])
        else:
            print(f"datagram {i}: wrong echo {data[:20]!r} from {peer}")
    if i not in echoed:
        print(f"datagram {i}: no echo within 10 s")
ok = len(echoed)
print(f"client: {ok} of {count} datagrams echoed intact")
sys.exit(0 if ok == count else 1)
PY

kill -INT "$pid"; wait "$pid"; rc=$?; pid=
echo "udp-echo exit $rc: $(cat echo.json)"
[ $rc = 0 ] || { cat echo.log; fail "udp-echo exited $rc"; }
python3 - "$count" <<'PY' || exit 1
import json, sys
count = int(sys.argv[1])
r = json.load(open("echo.json"))
log = open("echo.log").read()
zc = "zero-copy" in log and "copy mode" not in log
line = f"udp-echo on eth1: {'zero-copy' if zc else 'NOT zero-copy'}, received {r['received']}, transmitted {r['transmitted']}, frames held {r['frames_held']}"
good = zc and r["received"] >= count and r["transmitted"] == r["received"] and r["frames_held"] == 0
print(("PASS: " if good else "FAIL: ") + line)
sys.exit(0 if good else 1)
PY
