/// How the daemon moves packets between its ports.
public enum ForwardingMode: String, Sendable, Codable, CaseIterable {
    /// Port A ⇄ port B, every frame as is (bump in the wire), through one
    /// shared UMEM per queue: no copy.
    case xconnect
    /// Each frame back out of the port it came in on, MACs swapped.
    case macswap
    /// IPv4/IPv6 routing with the kernel's routes and neighbors.
    case l3
}
