#!/usr/bin/env bash
# Boots the lab guest, runs one command in it (chrooted into the host's root,
# read-only over 9p), prints the command's output and exits with its status.
#
# Usage: run-guest.sh [--nics N] [--hubs H] [--model virtio|igb] [--smp N] [--timeout SECONDS] -- COMMAND [ARG...]
#
# The guest has N NICs (default 2 virtio-net; eth0, eth1, ...) on H QEMU hubs
# (default 1), in order: with 4 NICs on 2 hubs, eth0-eth1 on one, eth2-eth3 on
# the other. Back to back only: no user, tap or bridge network, so the guest
# reaches nothing.
# Unless QEMU is set, fetch-qemu.sh's QEMU 10 (bookworm-backports) runs every
# model: igb needs QEMU >= 8, and under Debian 12's QEMU 7.2 virtio-net in
# zero-copy broke now and then under TCP load ("virtio: bogus descriptor or
# out of resources", then a TX queue stopped for good: Benchmarks/README.md).
# The command runs in a fresh work folder (its current directory, also $LAB_WORK),
# shared read-write with the host; everything else of the host is read-only.
# A guest still running after the timeout is killed by PID (exit 124).
# Environment: LAB_ACCEL=kvm|tcg skips the probe (accel.sh); LAB_KEEP=1 keeps the work folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-env.sh"

nics=2 hubs=1 model=virtio smp=2 timeout=120
while [ $# -gt 0 ]; do
    case $1 in
        --nics) nics=$2; shift 2 ;;
        --hubs) hubs=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: run-guest.sh [--nics N] [--hubs H] [--model virtio|igb] [--smp N] [--timeout S] -- COMMAND [ARG...]" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "run-guest.sh: no command" >&2; exit 2; }

if [ -z "${QEMU:-}" ]; then
    { read -r QEMU; read -r QEMU_FIRMWARE; } < <("$here/fetch-qemu.sh" --cached)
    [ -n "$QEMU" ] || exit 1
fi
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "emulated-nic: $qemu not found: apt-get install qemu-system-x86 (make deps does)" >&2; exit 1; }
kernel_dir=$("$here/fetch-guest-kernel.sh" --cached)
abi=$(basename "$kernel_dir")
vmlinuz=$kernel_dir/usr/lib/modules/$abi/vmlinuz
[ -f "$vmlinuz" ] || vmlinuz=$(ls "$kernel_dir"/boot/vmlinuz-* | sed -n 1p)
initrd=$("$here/initramfs.sh" "$kernel_dir")
accel=${LAB_ACCEL:-$("$here/accel.sh")}
case $accel in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
    *) echo "emulated-nic: LAB_ACCEL=$accel: use kvm or tcg" >&2; exit 2 ;;
esac

# The checkout (its scripts and .build), shared on its own: it may live
# under /tmp, which the guest covers with a tmpfs of its own.
repo=$(cd "$here/../.." && pwd)
mkdir -p "$LAB_CACHE/work"
work=$(mktemp -d "$LAB_CACHE/work/run.$$.XXXXXX")
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [ -z "${LAB_KEEP:-}" ]; then rm -rf "$work"; else echo "emulated-nic: kept $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{ printf 'export LAB_WORK=%q\n' "$work"; printf '%q ' exec "$@"; echo; } > "$work/command.sh"

nic_args=()
for ((i = 0; i < nics; i++)); do
    mac=52:54:00:00:00:$(printf %02x $((i + 1)))
    nic_args+=(-netdev "hubport,id=n$i,hubid=$((i * hubs / nics))")
    case $model in
        # iommu_platform: virtio_net's XSK pool needs the DMA API (VIRTIO_F_ACCESS_PLATFORM).
        virtio) nic_args+=(-device "virtio-net-pci,netdev=n$i,mac=$mac,disable-legacy=on,iommu_platform=on,romfile=") ;;
        # Each igb behind a PCIe root port of its own (q35), for MSI-X.
        igb) nic_args+=(-device "pcie-root-port,id=rp$i,chassis=$((i + 1)),slot=$((i + 1))"
                        -device "igb,netdev=n$i,mac=$mac,bus=rp$i,romfile=") ;;
        *) echo "run-guest.sh: --model $model: use virtio or igb" >&2; exit 2 ;;
    esac
done
firmware_args=()
IFS=: read -r -a firmware_dirs <<< "${QEMU_FIRMWARE:-}"
for d in "${firmware_dirs[@]}"; do [ -n "$d" ] && firmware_args+=(-L "$d"); done

# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check
# can time out and panic at boot ("IO-APIC + timer doesn't work"); seen with
# a Swift build running beside the lab.
"$qemu" "${firmware_args[@]}" -M q35 "${accel_args[@]}" -smp "$smp" -m 1024 \
    -nodefaults -no-user-config -nic none -display none -no-reboot -monitor none \
    -serial "file:$work/console.log" \
    -kernel "$vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check xdplab.work=$work xdplab.repo=$repo" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$work,mount_tag=labwork,security_model=none" \
    -virtfs "local,path=$repo,mount_tag=labrepo,security_model=none,readonly=on,multidevs=remap" \
    "${nic_args[@]}" 2> "$work/qemu.log" &
qemu_pid=$!

deadline=$((SECONDS + timeout))
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
        echo "emulated-nic: guest still running after ${timeout}s: killing QEMU (pid $qemu_pid); console:" >&2
        cat "$work/qemu.log" >&2 || true
        tail -20 "$work/console.log" >&2 || true
        [ -f "$work/output" ] && { echo "--- output so far:" >&2; cat "$work/output" >&2; }
        exit 124
    fi
    sleep 0.2
done
qemu_rc=0; wait "$qemu_pid" || qemu_rc=$?
qemu_pid=

[ -f "$work/output" ] && cat "$work/output"
if [ ! -f "$work/status" ]; then
    echo "emulated-nic: the guest stopped (QEMU exit $qemu_rc) without running the command; console:" >&2
    grep -v 'is not connected to host network' "$work/qemu.log" >&2 || true
    tail -30 "$work/console.log" >&2 || true
    exit 125
fi
exit "$(cat "$work/status")"
