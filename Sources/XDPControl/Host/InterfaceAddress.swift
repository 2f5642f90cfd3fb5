import CNetdevProbe
import CXDP
import XDP

/// Link-layer facts about an interface, read in the calling thread's namespace.
public enum InterfaceAddress {
    /// The interface's MAC address.
    /// - Throws: `XDPError` when the interface does not exist.
    public static func mac(of interface: String) throws(XDPError) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = cxdp_interface_mac(interface, &mac)
        guard rc == 0 else {
            throw XDPError.fromErrno(-rc, operation: "read the MAC address of \(interface)",
                                     hint: "interface \(interface) not found: check the name and the network namespace")
        }
        return mac
    }
}
