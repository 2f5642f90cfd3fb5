/// Packets one worker received from one queue in one batch, copied out of
/// the UMEM into memory of their own (two allocations per batch), so they
/// can cross to any task and live as long as needed. The frames went back
/// to the kernel before the batch was delivered.
public struct ReceivedBatch: Sendable, RandomAccessCollection {
    /// The queue the packets arrived on (pass it to ``PacketStream/send(_:queue:)`` to answer on it).
    public let queue: UInt32
    /// Every packet's bytes, back to back.
    let storage: [UInt8]
    /// Where each packet ends in `storage`.
    let ends: [Int]

    init(queue: UInt32, storage: [UInt8], ends: [Int]) {
        self.queue = queue
        self.storage = storage
        self.ends = ends
    }

    /// The index of the first packet (0).
    public var startIndex: Int { 0 }
    /// One past the last packet.
    public var endIndex: Int { ends.count }

    /// The packet at `index`.
    public subscript(index: Int) -> ReceivedPacket {
        let start = index == 0 ? 0 : ends[index - 1]
        return ReceivedPacket(queue: queue, bytes: storage[start..<ends[index]])
    }

    /// Bytes of all the packets.
    public var byteCount: Int { storage.count }
}

/// One received packet: its bytes (a slice of its batch's buffer, no copy)
/// and the queue it came in on.
public struct ReceivedPacket: Sendable {
    /// The queue it arrived on.
    public let queue: UInt32
    /// The packet, from its Ethernet header on.
    public let bytes: ArraySlice<UInt8>
}
