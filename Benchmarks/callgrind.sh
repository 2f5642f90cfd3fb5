#!/usr/bin/env bash
# Userspace instructions per packet of the receive loop, counted by callgrind:
# the same DUT run twice under valgrind (SHORT and LONG seconds) while a
# generator sends at a fixed rate; (instructions(long) - instructions(short))
# / (packets(long) - packets(short)) cancels setup and teardown.
#
#   Benchmarks/callgrind.sh [RATE_PPS (0: flood)] [SHORT_S] [LONG_S]
#
# Tools measured (TOOLS="xdpbench xdpref xdpsock" to choose): the release xdpbench (`rxdrop`), xdpref (`rxdrop -p`), and
# xdpsock (`-r -p -c`) when XDPSOCK names an executable you built yourself
# (bpf-examples' AF_XDP-example; not part of this repository).
# valgrind 3.19 cannot read Swift 6.3's DWARF 5: the Swift binary is run
# from a copy stripped with `strip -g` (symbols stay, so
# `callgrind_annotate` still names functions). Also prints, per run, packets
# per receive call (xdpbench's syscall counters) and the socket's
# XDP_STATISTICS drop reasons. Root; the generator runs on CPU 0, the DUT on CPU 1.
# CALLGRIND_FLAGS (e.g. --dump-instr=yes, for callgrind_annotate per instruction
# with objdump) go to xdpbench's valgrind.
set -euo pipefail
RATE=${1:-30000}
SHORT=${2:-2}
LONG=${3:-6}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
XDPBENCH=${XDPBENCH:-$BIN/xdpbench}   # the binary measured (lab and generator use $BIN/xdpbench)
REF=$ROOT/Benchmarks/reference/build/xdpref
OUT=${OUT:-$(mktemp -d /tmp/xdp-callgrind.XXXXXX)}
mkdir -p "$OUT"
LAB=cg$$
PEER_NS=${LAB}p DUT_NS=${LAB}d PEER_IF=${LAB}p0 DUT_IF=${LAB}d0
GEN_PID=

cleanup() {
    [ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    "$BIN/xdpbench" lab down --name "$LAB" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
strip -g -o "$OUT/xdpbench" "$XDPBENCH"
"$BIN/xdpbench" lab up --name "$LAB" >/dev/null

# Generator: steady RATE for longer than all the runs together.
RATE_OPTION=(--rate "$RATE")
[ "$RATE" = 0 ] && RATE_OPTION=()   # 0: flood
"$BIN/xdpbench" txonly --netns "$PEER_NS" -i "$PEER_IF" --cpus 0 "${RATE_OPTION[@]}" -d 3600 >"$OUT/generator.log" 2>&1 &
GEN_PID=$!
sleep 1

instructions() { awk '/^summary:/ { print $2 }' "$1"; }

# Calls of functions whose name contains $2 in callgrind file $1 (the batch
# function: Socket.receiveBatch; poll for the C tools, one per batch with -p).
calls_of() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
names, total, current = {}, 0, None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2):
            names[m.group(1)] = m.group(2).strip()
        if line.startswith("cfn="):
            current = names.get(m.group(1), "")
        continue
    if line.startswith("calls=") and current is not None and sys.argv[2] in current:
        total += int(line.split()[0][6:])
print(total)
EOF
}

# $1 tool, $2 seconds -> "instructions packets"
run_dut() {
    local tool=$1 secs=$2 file="$OUT/$1.$2.out" log="$OUT/$1.$2.log"
    case $tool in
    xdpbench)
        valgrind --tool=callgrind ${CALLGRIND_FLAGS:-} --callgrind-out-file="$file" "$OUT/xdpbench" rxdrop --netns "$DUT_NS" -i "$DUT_IF" \
            --cpus 1 -d "$secs" --json >"$log" 2>"$log.err"
        python3 - "$log" <<'EOF' >"$log.packets"
import json, sys
for line in reversed(open(sys.argv[1]).read().splitlines()):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    q = r.get("per_queue", [{}])[0]
    print(r["packets"], q.get("app_stats", {}), r.get("xdp_statistics"))
    break
EOF
        ;;
    xdpref)
        valgrind --tool=callgrind --callgrind-out-file="$file" "$REF" rxdrop --netns "$DUT_NS" -i "$DUT_IF" \
            --cpu 1 -d "$secs" -p --json >"$log" 2>"$log.err"
        python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(r["packets"], r.get("xdp_statistics"))' "$log" >"$log.packets"
        ;;
    xdpsock)
        nsenter --net=/run/netns/"$DUT_NS" taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$file" \
            "$XDPSOCK" -r -p -c -i "$DUT_IF" -q 0 -d "$secs" -a -x >"$log" 2>"$log.err" || true
        # The last "rx" line of the statistics: "rx  PPS  PACKETS".
        awk '$1 == "rx" && $2 ~ /^[0-9]+$/ { n = $3 } $1 == "opt" && $2 == "polls" { p = $4 } END { gsub(",", "", n); print n, "opt_polls=" p }' "$log" >"$log.packets"
        ;;
    esac
    echo "$(instructions "$file") $(cat "$log.packets")"
}

tools=${TOOLS:-xdpbench xdpref}
[ -z "${TOOLS:-}" ] && [ -n "${XDPSOCK:-}" ] && [ -x "$XDPSOCK" ] && tools="$tools xdpsock"
printf '| tool | rate (pps) | packets short/long | instructions short/long | instructions per packet | packets per batch |\n|---|---|---|---|---|---|\n' >"$OUT/table.md"
for tool in $tools; do
    read -r i1 p1 rest1 < <(run_dut "$tool" "$SHORT")
    read -r i2 p2 rest2 < <(run_dut "$tool" "$LONG")
    per=$(python3 -c "print(round(($i2 - $i1) / max(1, $p2 - $p1), 1))")
    # Batches: xdpbench's receiveBatch calls; the C tools' poll() calls (-p:
    # one batch per poll that says ready).
    case $tool in
    xdpbench) b1=$(calls_of "$OUT/$tool.$SHORT.out" receiveBatch); b2=$(calls_of "$OUT/$tool.$LONG.out" receiveBatch) ;;
    *) b1=$(calls_of "$OUT/$tool.$SHORT.out" poll); b2=$(calls_of "$OUT/$tool.$LONG.out" poll) ;;
    esac
    perbatch=$(python3 -c "d = (${b2:-0}) - (${b1:-0}); print(round(($p2 - $p1) / d, 1) if d > 0 else '')")
    echo "$tool short: $p1 packets, $i1 instr; $rest1" >&2
    echo "$tool long:  $p2 packets, $i2 instr; $rest2" >&2
    printf '| %s | %s | %s / %s | %s / %s | %s | %s |\n' "$tool" "$RATE" "$p1" "$p2" "$i1" "$i2" "$per" "$perbatch" >>"$OUT/table.md"
done
cat "$OUT/table.md"
echo "callgrind files in $OUT (callgrind_annotate $OUT/xdpbench.$LONG.out)" >&2
