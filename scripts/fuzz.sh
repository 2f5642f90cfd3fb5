#!/usr/bin/env bash
# Bounded libFuzzer pass over the packet parser and the L3 forwarder
# (Fuzz/PacketFuzzer.swift + Tests/PacketTests/PacketProperties.swift, with
# AddressSanitizer). Starts from the seed corpus (Fuzz/corpus/packet) and the
# kept reproducers (Fuzz/regressions/packet); new inputs go to a scratch
# copy, never into the repository. A crash is written to
# Fuzz/regressions/packet/ (commit it: PacketTests replays it from then on)
# and fails the run.
#   FUZZ_SECONDS  time budget (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
build=.build-fuzz
mkdir -p "$build" Fuzz/regressions/packet
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name PacketFuzzer \
    -enable-experimental-feature Lifetimes \
    Sources/Packet/*.swift Tests/PacketTests/PacketProperties.swift Fuzz/PacketFuzzer.swift \
    -o "$build/packet-fuzzer" 2> "$build/build.log" || { cat "$build/build.log"; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp Fuzz/corpus/packet/* "$scratch"/
cp Fuzz/regressions/packet/* "$scratch"/ 2>/dev/null || true
# The Swift runtime's backtracer would hold a crashing run for minutes: off.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 timeout $((seconds + 60)) \
    "$build/packet-fuzzer" "$scratch" -max_total_time="$seconds" -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=Fuzz/regressions/packet/ -print_final_stats=1 > "$build/fuzz.log" 2>&1 || {
    tail -40 "$build/fuzz.log"
    echo "fuzz: FAILED: reproducer(s) in Fuzz/regressions/packet/: $(ls Fuzz/regressions/packet)" >&2
    exit 1
}
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz.log" | grep -o '[0-9]*$' || echo "?")
corpus=$(ls "$scratch" | wc -l)
echo "fuzz: packet parser and L3 forwarder: $runs inputs in ${seconds} s, no crash, no property violated (corpus grew to $corpus inputs from $(ls Fuzz/corpus/packet | wc -l) seeds)"
