#!/usr/bin/env bash
# Installs what swift-xdp needs on a fresh Debian 12 machine, as root.
# Idempotent: installs only what is missing, mounts bpffs only when absent.
set -euo pipefail

packages=(libxdp-dev libbpf-dev libelf-dev zlib1g-dev pkg-config bpftool iproute2 ethtool
          iputils-ping iperf3 tcpdump procps python3 python3-prometheus-client)

if [ "$(id -u)" != 0 ]; then
    echo "deps: must run as root (AF_XDP, BPF and network namespaces need CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN)" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The emulated-NIC lab (QEMU guest with zero-copy NICs): host packages, guest kernel, initramfs.
"$(dirname "$0")/emulated-nic/host-deps.sh"

if ! command -v swift >/dev/null; then
    echo "deps: swift not found in PATH: install Swift 6.2 or newer (swift.org) and put it in PATH" >&2
    exit 1
fi
if ! command -v clang >/dev/null; then
    echo "deps: clang not found: the Swift toolchain's clang compiles the BPF program (-target bpf)" >&2
    exit 1
fi

if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
    mkdir -p /sys/fs/bpf
    mount -t bpf bpf /sys/fs/bpf && echo "deps: mounted bpffs on /sys/fs/bpf"
fi

# UMEM registration counts against RLIMIT_MEMLOCK unless the process has
# CAP_IPC_LOCK (root does). Say which applies; the hard limit cannot be
# raised without CAP_SYS_RESOURCE.
memlock=$(ulimit -l)
if grep -q '^CapEff:' /proc/self/status; then
    capeff=$((16#$(awk '/^CapEff:/ {print $2}' /proc/self/status)))
    if (( (capeff >> 14) & 1 )); then
        echo "deps: memlock limit ${memlock} KiB; CAP_IPC_LOCK present, so UMEM registration is not limited by it"
    else
        echo "deps: memlock limit ${memlock} KiB and no CAP_IPC_LOCK: UMEMs must fit in it (raise it with ulimit -l, or grant CAP_IPC_LOCK)" >&2
    fi
fi
