#!/bin/sh
# Runs inside the lab guest (eth0 -> eth1 on one QEMU hub): the test-only
# nic-conformance runner (Tests/EmulatedNIC/nic-conformance), xskxceiver's
# cases that xdpbench has no mode for, every socket --zero-copy required and
# XDP_ZEROCOPY checked through XDP_OPTIONS: UMEM headroom, invalid TX
# descriptors, rx_ring_full, rx_dropped (a frame longer than the buffers),
# TX metadata refused where xsk-features lack it, unaligned chunks on
# 2 MiB huge pages (reserved here, given back at exit); and by xskxceiver's
# names SEND_RECEIVE_SINGLE_PKT, POLL_RXQ_FULL, POLL_TXQ_FULL,
# ALIGNED_INV_DESC (4 KiB frames), UNALIGNED_INV_DESC (on huge pages),
# XDP_PROG_CLEANUP, HW_SW_MIN_RING_SIZE and HW_SW_MAX_RING_SIZE (both NICs'
# rings set with ethtool -G and put back), and with programs of the runner's
# own (custom-program path) XDP_DROP_HALF, XDP_METADATA_COPY,
# XDP_ADJUST_TAIL_SHRINK and XDP_ADJUST_TAIL_GROW.
# Usage: guest-conformance.sh NIC_CONFORMANCE
set -u
runner=$1
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$runner" ] || fail "no $runner: swift build -c release --product nic-conformance"
for i in eth0 eth1; do ip link set "$i" up || fail "ip link set $i up"; done

hugepages=/proc/sys/vm/nr_hugepages
original=$(cat $hugepages)
trap 'echo "$original" > $hugepages' EXIT
echo $((original + 4)) > $hugepages
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
echo "huge pages: $free free of $(cat $hugepages) (2 MiB)"
cases="headroom invalid-tx rx-ring-full rx-dropped tx-metadata SEND_RECEIVE_SINGLE_PKT POLL_RXQ_FULL POLL_TXQ_FULL ALIGNED_INV_DESC XDP_PROG_CLEANUP HW_SW_MIN_RING_SIZE HW_SW_MAX_RING_SIZE XDP_DROP_HALF XDP_METADATA_COPY XDP_ADJUST_TAIL_SHRINK XDP_ADJUST_TAIL_GROW"
if [ "${free:-0}" -ge 2 ]; then
    cases="$cases unaligned-huge UNALIGNED_INV_DESC"
else
    echo "FAIL: could not reserve 2 huge pages (HugePages_Free $free)"; failed_huge=1
fi
"$runner" eth0 eth1 $cases
rc=$?
exit $((rc + ${failed_huge:-0}))
