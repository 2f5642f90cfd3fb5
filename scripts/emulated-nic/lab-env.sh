# Sourced by the emulated-NIC lab scripts: where the lab keeps what it fetches
# and builds. Outside the repository and outside /tmp (the guest sees the
# host's root over 9p, but not mounts such as a tmpfs /tmp).
LAB_CACHE=${SWIFT_XDP_LAB_CACHE:-/var/cache/swift-xdp}
