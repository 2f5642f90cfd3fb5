#!/usr/bin/env bash
# The libraries an embedder links stay off full Foundation (and with it ICU,
# about 50 MB in a static binary): their sources may import
# FoundationEssentials or nothing, never Foundation itself, in any spelling
# (`import Foundation`, `@preconcurrency import Foundation`,
# `internal import Foundation`, `import struct Foundation.Data`).
# Fails listing the offending lines. Run by `make api-check` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(XDP XDPControl XDPService Packet Forwarding)
pattern='^[[:space:]]*(@[A-Za-z_]+(\([^)]*\))?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]+((struct|class|enum|protocol|typealias|func|var|let)[[:space:]]+)?Foundation([.[:space:]]|$)'
found=0
for target in "${TARGETS[@]}"; do
    [ -d "Sources/$target" ] || { echo "foundation-check: Sources/$target is missing" >&2; exit 1; }
    if grep -rnE --include='*.swift' "$pattern" "Sources/$target"; then found=1; fi
done
if [ "$found" -ne 0 ]; then
    echo "foundation-check: the lines above import Foundation into a library target (${TARGETS[*]});" >&2
    echo "use FoundationEssentials, or Glibc (see XDPControl's SystemFiles for sysfs/procfs reads)" >&2
    exit 1
fi
echo "foundation-check: ${TARGETS[*]} import no Foundation"
