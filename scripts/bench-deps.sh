#!/usr/bin/env bash
# Installs what the benchmarks need beyond `make deps`, as root: valgrind
# (Benchmarks/callgrind.sh) and DPDK with its AF_XDP PMD (dpdk-testpmd, the
# outside peer of Benchmarks/compare.py). Idempotent.
set -euo pipefail
packages=(valgrind dpdk dpdk-dev librte-net-af-xdp23 ethtool util-linux)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v dpdk-testpmd >/dev/null || echo "bench-deps: dpdk-testpmd not found after install: compare.py skips testpmd" >&2
