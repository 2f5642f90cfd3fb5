#!/usr/bin/env bash
# Fetches the guest kernel of the emulated-NIC lab: the newest linux-binary /
# linux-modules pair (>= 6.14, generic amd64 flavour) from Debian's
# trixie-backports, through an apt configuration of the project's own (its own
# sources list, state and cache folders under the lab cache: lab-apt.sh). The
# host's apt sources are never read or changed and nothing is installed on the
# host: the packages are only downloaded and unpacked with dpkg-deb -x, cached
# by version.
#
# Prints the unpacked kernel's folder (KERNEL_DIR/<version>) on stdout.
# --cached: a kernel already unpacked is used without asking the mirror
# (run-guest.sh; make deps looks for a newer one).
# Environment: SWIFT_XDP_LAB_CACHE (default /var/cache/swift-xdp),
#              GUEST_KERNEL_VERSION (pin a version, e.g. 7.3.4+deb13-amd64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-env.sh"
. "$here/lab-apt.sh"

suite=trixie-backports
kernels=$LAB_CACHE/kernels

manual_help() {
    cat >&2 <<HELP
emulated-nic: could not fetch the guest kernel ($1).
  What: the Debian packages linux-binary-<abi>-amd64 and linux-modules-<abi>-amd64
        (Linux 6.14 or newer; e.g. <abi> = 7.3.4+deb13) from the suite $suite,
        $mirror/pool/main/l/linux-signed-amd64/ (linux-binary-*) and
        $mirror/pool/main/l/linux/ (linux-modules-*).
  By hand: download both .deb files on a machine that can reach the mirror, then
        mkdir -p $kernels/<abi>-amd64
        dpkg-deb -x linux-binary-<abi>-amd64_*.deb  $kernels/<abi>-amd64
        dpkg-deb -x linux-modules-<abi>-amd64_*.deb $kernels/<abi>-amd64
        (the kernel lands in usr/lib/modules/<abi>-amd64/vmlinuz)
        touch $kernels/<abi>-amd64/.complete
  and run again (or set GUEST_KERNEL_VERSION=<abi>-amd64 to use it without the mirror).
HELP
    exit 1
}

# A kernel already unpacked: a pinned version, or any when the mirror is unreachable.
cached_newest() { ls -1 "$kernels" 2>/dev/null | while read -r v; do [ -e "$kernels/$v/.complete" ] && echo "$v"; done | sort -V | tail -1 || true; }

if [ -n "${GUEST_KERNEL_VERSION:-}" ] && [ -e "$kernels/$GUEST_KERNEL_VERSION/.complete" ]; then
    echo "$kernels/$GUEST_KERNEL_VERSION"; exit 0
fi
if [ "${1:-}" = --cached ] && [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    v=$(cached_newest)
    [ -n "$v" ] && { echo "$kernels/$v"; exit 0; }
fi

mkdir -p "$kernels"
lab_apt_setup "$suite"

[ -r "$keyring" ] || manual_help "no $keyring: install debian-archive-keyring"
if ! apt-get "${apt_opts[@]}" --error-on=any update >&2; then
    v=$(cached_newest)
    if [ -n "$v" ]; then echo "emulated-nic: $suite unreachable, using cached kernel $v" >&2; echo "$kernels/$v"; exit 0; fi
    manual_help "apt-get update of $suite failed"
fi

# Newest generic amd64 ABI that has both halves (linux-binary-<abi>-amd64 and linux-modules-<abi>-amd64).
abi=${GUEST_KERNEL_VERSION:-}
if [ -z "$abi" ]; then
    abi=$(apt-cache "${apt_opts[@]}" pkgnames linux-modules- \
          | sed -n 's/^linux-modules-\([0-9][0-9.]*+[a-z0-9]*-amd64\)$/\1/p' | sort -V \
          | while read -r a; do apt-cache "${apt_opts[@]}" show "linux-binary-$a" >/dev/null 2>&1 && echo "$a"; done | tail -1 || true)
fi
[ -n "$abi" ] || manual_help "no linux-binary/linux-modules pair in $suite"
major_minor=${abi%%+*}
if [ "$(printf '%s\n' 6.14 "$major_minor" | sort -V | head -1)" != 6.14 ]; then
    manual_help "newest kernel in $suite is $abi, older than 6.14"
fi

dest=$kernels/$abi
if [ ! -e "$dest/.complete" ]; then
    echo "emulated-nic: fetching guest kernel $abi from $suite" >&2
    work=$(mktemp -d "$apt_root/download.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get "${apt_opts[@]}" download "linux-binary-$abi" "linux-modules-$abi" >&2) \
        || manual_help "apt-get download linux-binary-$abi linux-modules-$abi failed"
    rm -rf "$dest.partial"; mkdir -p "$dest.partial"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.partial" || manual_help "dpkg-deb -x $(basename "$deb") failed"; done
    [ -f "$dest.partial/usr/lib/modules/$abi/vmlinuz" ] || ls "$dest.partial"/boot/vmlinuz-* >/dev/null 2>&1 \
        || manual_help "no vmlinuz in linux-binary-$abi"
    touch "$dest.partial/.complete"
    rm -rf "$dest"; mv "$dest.partial" "$dest"
    # Older versions are dropped: one kernel is kept.
    for old in "$kernels"/*; do [ "$old" = "$dest" ] || rm -rf "$old"; done
fi
echo "$dest"
