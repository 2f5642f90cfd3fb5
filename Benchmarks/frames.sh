#!/usr/bin/env bash
# The cost of issue 8's frame features against the plain path, in one run:
# xdpbench txonly (generator, CPU 0) -> veth -> xdpbench rxdrop (device, CPU 1),
# native mode, copy mode, each variant on a fresh lab, RUNS rounds interleaved.
# Usage: Benchmarks/frames.sh [runs] [seconds]   (after `make build`; root; a quiet machine)
set -uo pipefail
BIN=${BIN:-.build/release}
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-6}
LAB=xf P=xfp D=xfd
cleanup() { "$BIN/xdpbench" lab down --name $LAB >/dev/null 2>&1; }
trap cleanup EXIT

# name | rxdrop options | txonly options
variants=(
    "plain 64 B|                                |-s 64"
    "unaligned 4001 64 B|--unaligned -f 4001         |--unaligned -f 4001 -s 64"
    "rx-metadata 64 B|--rx-metadata                  |-s 64"
    "multi-buffer on, 64 B|--multi-buffer                 |--multi-buffer -s 64"
    "plain 1514 B|                                |-s 1514"
    "multi-buffer 9014 B (MTU 9000)|--multi-buffer --mtu 9000       |--multi-buffer --mtu 9000 -s 9014"
)

declare -A rxpps txpps gbits
for run in $(seq "$RUNS"); do
    for entry in "${variants[@]}"; do
        IFS='|' read -r name rxopts txopts <<<"$entry"
        cleanup
        "$BIN/xdpbench" lab up --name $LAB >/dev/null
        dmac=$(ip -n $D -o link show ${LAB}d0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
        # shellcheck disable=SC2086
        "$BIN/xdpbench" rxdrop --netns $D -i ${LAB}d0 --attach native --cpus 1 -d "$SECONDS_PER_RUN" --json $rxopts >/tmp/frames-rx.json 2>/tmp/frames-rx.err & rx=$!
        for _ in $(seq 50); do ip -n $D link show ${LAB}d0 | grep -q xdp && break; sleep 0.1; done
        # shellcheck disable=SC2086
        "$BIN/xdpbench" txonly --netns $P -i ${LAB}p0 --dst-mac "$dmac" --cpus 0 -d $((SECONDS_PER_RUN - 2)) --json $txopts >/tmp/frames-tx.json 2>/tmp/frames-tx.err
        wait $rx
        read -r r t g < <(python3 -c '
import json, sys
try:
    rx = json.load(open("/tmp/frames-rx.json")); tx = json.load(open("/tmp/frames-tx.json"))
    secs = tx["duration_s"] or 1
    print("%.3f %.3f %.2f" % (rx["packets"] / secs / 1e6, tx["pps"] / 1e6, rx["bytes"] * 8 / secs / 1e9))
except Exception as e:
    print("err err err")
')
        rxpps[$name]+="$r "; txpps[$name]+="$t "; gbits[$name]+="$g "
    done
done
cleanup
echo "| variant | received Mpps per run | offered Mpps per run | received Gbit/s per run |"
echo "|---|---|---|---|"
for entry in "${variants[@]}"; do
    IFS='|' read -r name _ _ <<<"$entry"
    echo "| $name | ${rxpps[$name]}| ${txpps[$name]}| ${gbits[$name]}|"
done
