# Sourced by the guest-side case scripts.

# wait_sockets IFACE COUNT: waits (at most 30 s) until COUNT AF_XDP sockets are
# bound on IFACE (ss --xdp; the initramfs loads xsk_diag), then a moment for
# their registration in the program's XSKMAP, so a sender started next loses
# nothing to a receiver still setting up. Fails when they never appear.
wait_sockets() {
    _i=0
    while [ "$(ss -a --xdp 2>/dev/null | grep -c " $1:q[0-9]")" -lt "$2" ]; do
        _i=$((_i + 1))
        [ $_i -gt 300 ] && { echo "FAIL: $2 AF_XDP socket(s) on $1 not bound after 30 s"; ss -a --xdp; return 1; }
        sleep 0.1
    done
    sleep 1
}
