#!/usr/bin/env bash
# Public-API check: symbol graphs of the library modules from the debug build
# (swift-symbolgraph-extract, well under a second per module) compared with
# the checked-in api/<Module>.txt. `scripts/api-check.sh` checks,
# `scripts/api-check.sh update` rewrites the lists (see scripts/api-check.py).
# Needs `swift build` first (make api-check does it).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-check}
BUILD=$(swift build --show-bin-path)
TRIPLE=$(swift -print-target-info | python3 -c 'import json,sys; print(json.load(sys.stdin)["target"]["triple"])')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for module in XDP XDPControl XDPService Packet; do
    swift-symbolgraph-extract -module-name "$module" -target "$TRIPLE" -I "$BUILD/Modules" \
        -I Sources/CXDP/include -I Sources/CNetdevProbe/include -I Sources/CUnixSocket/include \
        -Xcc -fmodule-map-file="$BUILD/CXDP.build/module.modulemap" \
        -Xcc -fmodule-map-file="$BUILD/CNetdevProbe.build/module.modulemap" \
        -Xcc -fmodule-map-file="$BUILD/CUnixSocket.build/module.modulemap" \
        -minimum-access-level public -skip-synthesized-members -output-dir "$OUT" >/dev/null
done
python3 scripts/api-check.py "$MODE" "$OUT"
