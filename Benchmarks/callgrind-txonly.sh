#!/usr/bin/env bash
# Userspace instructions and TX kicks (sendto) per packet of xdpbench txonly
# in copy mode on the veth lab, counted by callgrind: the same binary sends
# SHORT and then LONG packets (--count), and the differences divide, so
# setup and teardown cancel. Counts, not timings: valid on a busy machine.
#
#   Benchmarks/callgrind-txonly.sh [SHORT_PACKETS] [LONG_PACKETS]
#
# XDPBENCH names the binary measured (default: the release build); it is run
# from a copy stripped with `strip -g` (valgrind 3.19 cannot read Swift 6.3's
# DWARF 5). Root; the sender runs on CPU 1.
set -euo pipefail
SHORT=${1:-100000}
LONG=${2:-300000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
XDPBENCH=${XDPBENCH:-$BIN/xdpbench}
OUT=${OUT:-$(mktemp -d /tmp/xdp-callgrind-tx.XXXXXX)}
mkdir -p "$OUT"
LAB=ct$$
trap '"$BIN/xdpbench" lab down --name "$LAB" >/dev/null 2>&1 || true' EXIT INT TERM
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
strip -g -o "$OUT/xdpbench" "$XDPBENCH"
"$BIN/xdpbench" lab up --name "$LAB" >/dev/null

# $1 packets -> "instructions kicks"
run() {
    local file="$OUT/txonly.$1.out" log="$OUT/txonly.$1.log"
    sleep 1.2  # the previous socket's queue is freed asynchronously
    valgrind --tool=callgrind --callgrind-out-file="$file" "$OUT/xdpbench" txonly --netns "${LAB}p" -i "${LAB}p0" \
        --cpus 1 --count "$1" -d 60 --json >"$log" 2>"$log.err"
    python3 - "$file" "$log" <<'PY'
import json, sys
total = next(int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("summary:"))
for line in reversed(open(sys.argv[2]).read().splitlines()):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    q = r.get("per_queue", [{}])[0].get("app_stats", {})
    print(total, q.get("tx_kicks", 0), r.get("packets", 0))
    break
PY
}
read -r i1 k1 p1 < <(run "$SHORT")
read -r i2 k2 p2 < <(run "$LONG")
python3 - "$i1" "$k1" "$p1" "$i2" "$k2" "$p2" <<'PY'
import sys
i1, k1, p1, i2, k2, p2 = map(int, sys.argv[1:])
dp = max(1, p2 - p1)
print("| packets short/long | instructions per packet | kicks short/long | packets per kick |")
print("|---|---|---|---|")
print(f"| {p1} / {p2} | {(i2 - i1) / dp:.1f} | {k1} / {k2} | {dp / max(1, k2 - k1):.1f} |")
PY
echo "callgrind files in $OUT" >&2
