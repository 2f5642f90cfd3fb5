#!/usr/bin/env bash
# `make install` into temporary prefixes, then proves the installed binaries
# need no toolchain: ldd names nothing under it, and in a mount namespace
# where an empty directory hides it, with a minimal environment, every tool
# answers --help and xdpbench txonly -> rxdrop moves an exact packet count on
# a veth lab (198.18.0.0/15 only). systemd-analyze verify checks the
# installed unit. Fails loudly when it cannot run; removes everything it
# created on every exit path. Run as root from the repository (make test).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "install-check: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (veth lab, mount namespace)"
for tool in unshare mount ldd systemd-analyze python3 ip; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/deps.sh installs it)"
done
swift_bin=$(command -v "${SWIFT:-swift}") || fail "swift not found"
# The toolchain's root (/opt/swift for /opt/swift/usr/bin/swift).
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$swift_bin")")")")
[ -d "$toolchain/usr/lib/swift/linux" ] || fail "cannot find the toolchain's library folder under $toolchain"

tmp=$(mktemp -d /tmp/swift-xdp-install.XXXXXX)
lab="xi$$"
cleanup() {
    status=$?
    if ip netns list | grep -q "^${lab}[pd]\b"; then
        "$tmp/prefix/bin/xdpbench" lab down --name "$lab" >/dev/null 2>&1 || { ip netns del "${lab}p" 2>/dev/null; ip netns del "${lab}d" 2>/dev/null; }
    fi
    rm -rf "$tmp"
    [ $status = 0 ] && echo "install-check: PASS" || echo "install-check: FAIL (exit $status)" >&2
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "install-check: make install DESTDIR=$tmp/dest (default PREFIX)"
make -s install DESTDIR="$tmp/dest" >/dev/null
for file in usr/local/bin/xdpfwd usr/local/bin/xdpbench usr/local/bin/xdpctl usr/local/lib/systemd/system/xdpfwd.service \
            etc/xdpfwd/xdpfwd.yaml usr/local/share/doc/swift-xdp/README.md usr/local/share/man/man1/xdpfwd.1; do
    [ -e "$tmp/dest/$file" ] || fail "make install DESTDIR= did not install /$file"
done
grep -q '^ExecStart=/usr/local/bin/xdpfwd run --config /etc/xdpfwd/xdpfwd.yaml$' "$tmp/dest/usr/local/lib/systemd/system/xdpfwd.service" \
    || fail "DESTDIR leaked into the unit's ExecStart"
[ "$(stat -c %a "$tmp/dest/etc/xdpfwd/xdpfwd.yaml")" = 644 ] || fail "the config must be 0644 (xdpfwd refuses world-writable)"

prefix="$tmp/prefix"
echo "install-check: make install PREFIX=$prefix SYSCONFDIR=$prefix/etc"
make -s install PREFIX="$prefix" SYSCONFDIR="$prefix/etc" >/dev/null
unit="$prefix/lib/systemd/system/xdpfwd.service"
grep -q "^ExecStart=$prefix/bin/xdpfwd run --config $prefix/etc/xdpfwd/xdpfwd.yaml\$" "$unit" || fail "PREFIX not written into $unit"
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
echo "install-check: systemd-analyze verify: clean"
for page in $(sed -n 's|^Documentation=file:||p' "$unit"); do
    [ -f "$page" ] || fail "the unit's Documentation=file:$page is not installed"
done

for tool in xdpfwd xdpbench xdpctl; do
    libs=$(ldd "$prefix/bin/$tool")
    if grep -q "not found" <<<"$libs"; then fail "$tool: $(grep 'not found' <<<"$libs")"; fi
    if grep -q "$toolchain" <<<"$libs"; then fail "$tool still loads from the toolchain: $(grep "$toolchain" <<<"$libs")"; fi
    if readelf -d "$prefix/bin/$tool" | grep -E 'RUNPATH|RPATH' | grep -q "$toolchain"; then fail "$tool carries a RUNPATH into $toolchain"; fi
    echo "install-check: $tool $(du -h "$prefix/bin/$tool" | cut -f1), needs $(awk '/=>/ {print $1}' <<<"$libs" | tr '\n' ' ')"
done

# The lab, made by the installed xdpbench (outside the mount namespace, so
# the namespaces are visible to the cleanup).
"$prefix/bin/xdpbench" lab up --name "$lab" >/dev/null
dmac=$(ip netns exec "${lab}d" cat "/sys/class/net/${lab}d0/address")
mkdir "$tmp/empty"
cat >"$tmp/hidden.sh" <<EOF
set -euo pipefail
mount --bind "$tmp/empty" "$toolchain"
[ -z "\$(ls -A "$toolchain")" ] || { echo "toolchain still visible" >&2; exit 1; }
for tool in xdpfwd xdpbench xdpctl; do
    "$prefix/bin/\$tool" --help >/dev/null || { echo "\$tool --help failed without the toolchain" >&2; exit 1; }
done
"$prefix/bin/xdpfwd" check --config "$prefix/etc/xdpfwd/xdpfwd.yaml" | tail -1
# The receiver's worker under SCHED_FIFO, so a loaded machine cannot keep it
# off the CPU long enough to overrun its RX ring; the sender starts once it
# says "ready" (every socket registered), at most 60 s.
"$prefix/bin/xdpbench" rxdrop --netns ${lab}d -i ${lab}d0 --count 10000 -d 30 --policy fifo --schpri 10 --json >"$tmp/rx.json" 2>"$tmp/rx.err" &
receiver=\$!
trap 'kill \$receiver 2>/dev/null || true' EXIT
for _ in \$(seq 600); do grep -q ': ready\$' "$tmp/rx.err" && break; sleep 0.1; done
"$prefix/bin/xdpbench" txonly --netns ${lab}p -i ${lab}p0 --dst-mac $dmac --count 10000 --rate 100000 --json >"$tmp/tx.json"
wait \$receiver
EOF
echo "install-check: toolchain $toolchain hidden, minimal environment"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin unshare -m --propagation private bash "$tmp/hidden.sh" \
    || fail "installed binaries without the toolchain: $(cat "$tmp/rx.err" 2>/dev/null)"
python3 - "$tmp/tx.json" "$tmp/rx.json" <<'EOF'
import json, sys
sent = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["packets"]
received = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
assert sent == 10000 and received["packets"] == 10000 and received["frames_conserved"], (sent, received)
print(f"install-check: without the toolchain: txonly sent {sent}, rxdrop received {received['packets']}, frames conserved")
EOF
