#!/usr/bin/env bash
# Fetches a QEMU new enough to emulate igb (>= 8; Debian 12 has 7.2): the
# packages qemu-system-x86, qemu-system-data and seabios from
# bookworm-backports, through the lab's own apt configuration (lab-apt.sh),
# unpacked with dpkg-deb -x under the lab cache, cached by version; nothing is
# installed on the host. Its libraries are bookworm's (the host's QEMU 7.2
# pulled them in).
#
# Prints two lines: the qemu-system-x86_64 binary, and the firmware folders
# (colon-separated) for run-guest.sh's QEMU and QEMU_FIRMWARE.
# --cached: a QEMU already unpacked is used without asking the mirror.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab-env.sh"
. "$here/lab-apt.sh"

suite=bookworm-backports
packages=(qemu-system-x86 qemu-system-data seabios)
store=$LAB_CACHE/qemu

manual_help() {
    cat >&2 <<HELP
emulated-nic: could not fetch QEMU for igb ($1).
  What: the Debian packages ${packages[*]} (QEMU 8 or newer) from the suite $suite,
        $mirror/pool/main/q/qemu/ and $mirror/pool/main/s/seabios/.
  By hand: download the three .deb files, then
        mkdir -p $store/<version> && for d in *.deb; do dpkg-deb -x \$d $store/<version>; done
        touch $store/<version>/.complete
HELP
    exit 1
}

emit() { echo "$1/usr/bin/qemu-system-x86_64"; echo "$1/usr/share/seabios:$1/usr/share/qemu"; }
cached_newest() { ls -1 "$store" 2>/dev/null | while read -r v; do [ -e "$store/$v/.complete" ] && echo "$v"; done | sort -V | tail -1 || true; }

mkdir -p "$store"
if [ "${1:-}" = --cached ]; then
    v=$(cached_newest)
    [ -n "$v" ] && { emit "$store/$v"; exit 0; }
fi
lab_apt_setup "$suite"
if ! apt-get "${apt_opts[@]}" --error-on=any update >&2; then
    v=$(cached_newest)
    [ -n "$v" ] && { echo "emulated-nic: $suite unreachable, using cached QEMU $v" >&2; emit "$store/$v"; exit 0; }
    manual_help "apt-get update of $suite failed"
fi
version=$(apt-cache "${apt_opts[@]}" show qemu-system-x86 2>/dev/null | sed -n "s/^Version: //p" | sort -V | tail -1 || true)
[ -n "$version" ] || manual_help "no qemu-system-x86 in $suite"
dir_version=${version#*:}
dest=$store/$dir_version
if [ ! -e "$dest/.complete" ]; then
    echo "emulated-nic: fetching QEMU $version from $suite" >&2
    mkdir -p "$store"
    work=$(mktemp -d "$apt_root/download.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get "${apt_opts[@]}" download "qemu-system-x86=$version" "qemu-system-data=$version" seabios >&2) \
        || manual_help "apt-get download ${packages[*]} failed"
    rm -rf "$dest.partial"; mkdir -p "$dest.partial"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.partial" || manual_help "dpkg-deb -x $(basename "$deb") failed"; done
    "$dest.partial/usr/bin/qemu-system-x86_64" --version >/dev/null \
        || manual_help "the unpacked qemu-system-x86_64 does not run here (missing libraries? ldd $dest.partial/usr/bin/qemu-system-x86_64)"
    touch "$dest.partial/.complete"
    rm -rf "$dest"; mv "$dest.partial" "$dest"
    for old in "$store"/*; do [ "$old" = "$dest" ] || rm -rf "$old"; done
fi
emit "$dest"
