/// Queue interrupts read from /proc/interrupts, by the names drivers give them.
///
/// Drivers name a queue's interrupt in one of a few ways; each is matched on
/// the last field of a /proc/interrupts line (the action name):
///
/// | driver | name | queue |
/// |---|---|---|
/// | igb, ixgbe, bnxt, most others | `eth0-TxRx-3`, `eth0-rx-3`, `eth0-tx-3`, `eth0-3` | 3 |
/// | ice, i40e, iavf | `ice-eth0-TxRx-3` (a driver prefix before the interface name) | 3 |
/// | virtio_net | `virtio1-input.3` (RX), `virtio1-output.3` (TX), by the virtio device | 3 |
/// | mlx5 | `mlx5_comp3@pci:0000:3b:00.0`, by the PCI address | 3 |
///
/// Where a queue has separate RX and TX interrupts, the RX (or combined) one
/// is kept: it is the one whose NAPI polls the socket's RX ring.
struct QueueInterrupts {
    /// The interface name.
    var interface: String
    /// The PCI address (ETHTOOL_GDRVINFO bus-info), for mlx5's names.
    var bus: String?
    /// The virtio device under the interface (`virtio1`), for virtio_net's names.
    var virtioDevice: String?

    /// Queue id to IRQ number for the interface, from the text of /proc/interrupts.
    func parse(_ text: String) -> [UInt32: Int] {
        var receive: [UInt32: Int] = [:]
        var transmit: [UInt32: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 1, let first = fields.first, first.hasSuffix(":"),
                  let irq = Int(first.dropLast()), let label = fields.last else { continue }
            guard let (queue, isTransmitOnly) = match(String(label)) else { continue }
            if isTransmitOnly {
                if transmit[queue] == nil { transmit[queue] = irq }
            } else if receive[queue] == nil {
                receive[queue] = irq
            }
        }
        return transmit.merging(receive) { _, rx in rx }
    }

    /// The queue a label names for this interface, and whether it is a TX-only interrupt.
    func match(_ label: String) -> (queue: UInt32, isTransmitOnly: Bool)? {
        if let virtioDevice {
            if let queue = number(after: "\(virtioDevice)-input.", in: label) { return (queue, false) }
            if let queue = number(after: "\(virtioDevice)-output.", in: label) { return (queue, true) }
        }
        if let bus, label.hasPrefix("mlx5_comp"), label.hasSuffix("@pci:\(bus)") {
            let digits = label.dropFirst("mlx5_comp".count).dropLast("@pci:\(bus)".count)
            if let queue = UInt32(digits) { return (queue, false) }
        }
        // "<name>-<kind>-<n>", "<name>-<n>", or either after a driver prefix "<driver>-".
        let plain = label.split(separator: "@", maxSplits: 1).first.map(String.init) ?? label
        var candidates = [plain]
        if let dash = plain.firstIndex(of: "-"), plain[..<dash].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            candidates.append(String(plain[plain.index(after: dash)...]))
        }
        for candidate in candidates where candidate.hasPrefix("\(interface)-") {
            let parts = candidate.dropFirst(interface.count + 1).split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 1, let queue = UInt32(parts[0]) { return (queue, false) }
            if parts.count == 2, let queue = UInt32(parts[1]), !parts[0].isEmpty,
               parts[0].allSatisfy({ $0.isLetter }) {
                return (queue, parts[0].lowercased() == "tx")
            }
        }
        return nil
    }

    private func number(after prefix: String, in label: String) -> UInt32? {
        guard label.hasPrefix(prefix) else { return nil }
        return UInt32(label.dropFirst(prefix.count))
    }
}
