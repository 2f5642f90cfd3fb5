#!/usr/bin/env bash
# Prints the accelerator the lab guest boots with: kvm when /dev/kvm actually
# boots the guest kernel (a nested hypervisor may expose /dev/kvm and still
# fail on instructions such as shlx, cmpxchg16b or xrstor), else tcg. The
# answer is cached per host boot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-env.sh"

boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
cache=$LAB_CACHE/accel.$boot
if [ -s "$cache" ]; then cat "$cache"; exit 0; fi
accel=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ] \
   && LAB_ACCEL=kvm "$here/run-guest.sh" --nics 0 --smp 1 --timeout 12 -- /bin/true >/dev/null 2>&1; then
    accel=kvm
fi
mkdir -p "$LAB_CACHE"
rm -f "$LAB_CACHE"/accel.*
echo "$accel" > "$cache"
echo "emulated-nic: guest accelerator $accel (KVM probe $([ $accel = kvm ] && echo booted || echo did not boot))" >&2
echo "$accel"
