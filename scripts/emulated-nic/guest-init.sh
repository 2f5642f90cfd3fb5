#!/bin/busybox sh
# /init of the emulated-NIC lab's guest (static busybox). Loads the modules the
# initramfs carries, mounts the host's root (9p tag hostroot, read-only) and the
# run's work folder (9p tag labwork, read-write, at the same path as on the
# host), chroots into the host's root, runs WORK/command.sh there, writes its
# output to WORK/output and its exit status to WORK/status, and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

say() { echo "lab-init: $*" > /dev/console; }
fail() { say "$*"; poweroff -f; }

for m in $(cat /lib/modules/load-order); do
    insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done

work=$(sed -n 's/.*xdplab\.work=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$work" ] || fail "no xdplab.work= on the kernel command line"

r=/newroot
mkdir -p $r
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $opts,ro,cache=loose hostroot $r || fail "cannot mount the host's root (9p hostroot)"
mount -t 9p -o $opts labwork $r$work || fail "cannot mount the work folder (9p labwork) on $work"
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/shm $r/dev/pts
mount -t tmpfs shm $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t bpf bpf $r/sys/fs/bpf
mount -t tmpfs tmp $r/tmp
mount -t tmpfs run $r/run
mount -t tmpfs home $r/root
# The checkout, at its own path, when a tmpfs above hides it (a clone under /tmp).
repo=$(sed -n 's/.*xdplab\.repo=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$repo" ] && [ ! -e "$r$repo/scripts/emulated-nic" ]; then
    mkdir -p "$r$repo" && mount -t 9p -o $opts,ro labrepo "$r$repo" || fail "cannot mount the checkout (9p labrepo) on $repo"
fi
chroot $r /bin/sh -c 'ip link set lo up' 2>/dev/null

say "running $work/command.sh"
HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot $r /bin/sh -c "cd '$work' && exec /bin/sh '$work/command.sh'" > $r$work/output 2>&1 < /dev/null
status=$?
echo $status > $r$work/status
say "command exited with status $status"
sync
[ -n "$repo" ] && umount "$r$repo" 2>/dev/null
umount $r$work
poweroff -f
