import CXDP
import Glibc
import XDP
import XDPControl

extension VethLab {
    /// Makes every frame leaving `interface` (in `namespace`) carry an 802.1Q
    /// tag out of band, in the skb (as a NIC's VLAN offload delivers it), by
    /// a small tc egress program (`lab_vlan_push.bpf.c`, embedded in this target): what the XDP
    /// RX metadata kfunc `bpf_xdp_metadata_rx_vlan_tag` reports on the other
    /// end of the veth. Needs no 8021q module. The program goes with the
    /// interface (the lab's teardown).
    /// - Parameters:
    ///   - interface: A lab interface, e.g. a link's `peerInterface`.
    ///   - namespace: Its namespace.
    ///   - vlan: The VLAN id (1-4094), priority 0.
    ///   - protocolID: 0x8100 (802.1Q) or 0x88A8 (802.1ad).
    /// - Throws: `XDPError` when the program cannot be loaded or attached.
    public func tagEgress(of interface: String, in namespace: String, vlan: UInt16, protocolID: UInt16 = 0x8100) throws(XDPError) {
        guard (1...4094).contains(vlan) else {
            throw XDPError(.invalidConfiguration, operation: "tag \(interface)'s frames", hint: "VLAN id \(vlan) out of range 1-4094")
        }
        try NetworkNamespace.withEntered(namespace) { () throws(XDPError) in
            let index = if_nametoindex(interface)
            guard index != 0 else {
                throw XDPError(.interfaceNotFound, operation: "tag \(interface)'s frames", errno: ENODEV)
            }
            let (object, programFD) = try XDPProgram.load(BPFObject(name: "lab_vlan_push", bytes: EmbeddedBPF.labVlanPush),
                                                          program: "lab_vlan_push")
            defer { bpf_object__close(object) }   // the attached program stays with the interface
            var key: UInt32 = 0
            var tag = UInt32(protocolID) << 16 | UInt32(vlan)
            let map = bpf_object__find_map_fd_by_name(object, "vlan_tag")
            guard map >= 0, bpf_map_update_elem(map, &key, &tag, UInt64(BPF_ANY)) == 0 else {
                throw XDPError(.program, operation: "configure the VLAN tag program for \(interface)")
            }
            let rc = cxdp_tc_attach_egress(Int32(index), programFD)
            if rc != 0 { throw XDPError.fromErrno(-rc, operation: "attach the VLAN tag program to \(interface)'s egress") }
        }
    }
}

/// The lab's BPF programs, compiled and embedded by the EmbedBPF plugin.
enum EmbeddedBPF {}
