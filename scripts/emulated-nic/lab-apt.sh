# Sourced: an apt configuration of the lab's own for one Debian suite, under
# the lab cache (its own sources list, state, lists and cache folders). The
# host's apt sources are never read or changed; packages are only downloaded
# (apt-get download) and unpacked (dpkg-deb -x), never installed.
#
#   lab_apt_setup SUITE     sets apt_root and apt_opts (apt-get "${apt_opts[@]}" update|download ...)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

lab_apt_setup() {
    local suite=$1
    apt_root=$LAB_CACHE/apt/$suite
    mkdir -p "$apt_root/etc" "$apt_root/state/lists/partial" "$apt_root/cache/archives/partial"
    : > "$apt_root/state/status"
    echo "deb [signed-by=$keyring] $mirror $suite main" > "$apt_root/etc/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_root/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State=$apt_root/state" -o "Dir::State::status=$apt_root/state/status"
              -o "Dir::Cache=$apt_root/cache" -o Dir::Etc::Preferences=/dev/null
              -o Dir::Etc::PreferencesParts=/dev/null -o APT::Architecture=amd64
              -o APT::Architectures::=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root -qq)
}
