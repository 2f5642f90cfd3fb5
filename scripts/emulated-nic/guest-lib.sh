# Sourced by the guest-side case scripts.

# wait_sockets IFACE COUNT [STDERR_FILE...]: waits (at most 60 s: TCG on a
# loaded host is slow) until COUNT AF_XDP sockets are bound on IFACE (ss
# --xdp; the initramfs loads xsk_diag) and, for each xdpbench whose standard
# error goes to a STDERR_FILE, until it says "ready" (every socket
# registered in the program's XSKMAP), so a sender started next loses
# nothing to a receiver still setting up. Fails when they never appear.
wait_sockets() {
    _iface=$1 _count=$2
    shift 2
    _i=0
    while [ "$(ss -a --xdp 2>/dev/null | grep -c " $_iface:q[0-9]")" -lt "$_count" ]; do
        _i=$((_i + 1))
        [ $_i -gt 600 ] && { echo "FAIL: $_count AF_XDP socket(s) on $_iface not bound after 60 s"; ss -a --xdp; return 1; }
        sleep 0.1
    done
    for _file in "$@"; do
        while ! grep -q ': ready$' "$_file" 2>/dev/null; do
            _i=$((_i + 1))
            [ $_i -gt 600 ] && { echo "FAIL: no \"ready\" in $_file after 60 s:"; cat "$_file"; return 1; }
            sleep 0.1
        done
    done
}
