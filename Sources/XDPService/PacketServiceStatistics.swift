import XDP
import XDPControl

/// What a ``PacketService`` or ``PacketStream`` has done so far, summed over
/// its workers (each publishes once per busy batch, so a reading can lag by a batch).
public struct PacketServiceStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Packets taken from the RX rings.
    public var received: Int
    /// Their bytes.
    public var receivedBytes: Int
    /// Packets sent back out (handler verdict `.transmit`, or ``PacketStream/send(_:queue:)``).
    public var transmitted: Int
    /// Their bytes.
    public var transmittedBytes: Int
    /// Packets the handler wanted to send that a full TX ring could not take (returned to the pool).
    public var transmitRingFull: Int
    /// Stream only: packets handed to the consumer.
    public var delivered: Int
    /// Stream only: packets dropped because the consumer's buffer was full
    /// (their frames went straight back to the fill ring).
    public var droppedSlowConsumer: Int
    /// Stream only: packets of ``PacketStream/send(_:queue:)`` put on a TX ring.
    public var sent: Int
    /// Where the frames of all workers' UMEMs are, as last published.
    public var frames: FrameAccounting

    /// Packets the handler dropped (verdict `.drop`), for a ``PacketService``.
    public var droppedByHandler: Int { received - (transmitted - sent) - transmitRingFull - delivered - droppedSlowConsumer }

    /// Creates statistics from totals.
    public init(received: Int = 0, receivedBytes: Int = 0, transmitted: Int = 0, transmittedBytes: Int = 0,
                transmitRingFull: Int = 0, delivered: Int = 0, droppedSlowConsumer: Int = 0, sent: Int = 0,
                frames: FrameAccounting = FrameAccounting(total: 0, free: 0, receiveSide: 0, transmitSide: 0)) {
        self.received = received
        self.receivedBytes = receivedBytes
        self.transmitted = transmitted
        self.transmittedBytes = transmittedBytes
        self.transmitRingFull = transmitRingFull
        self.delivered = delivered
        self.droppedSlowConsumer = droppedSlowConsumer
        self.sent = sent
        self.frames = frames
    }

    /// One line for logs.
    public var description: String {
        "received \(received), transmitted \(transmitted), tx ring full \(transmitRingFull), delivered \(delivered), dropped (slow consumer) \(droppedSlowConsumer), sent \(sent); frames: \(frames)"
    }

    /// Sums the data plane's per-queue counters (the frames are on each worker's first queue).
    init(_ counters: [QueueCounters]) {
        self.init()
        for queue in counters {
            received += Int(queue.rxPackets.load(ordering: .relaxed))
            receivedBytes += Int(queue.rxBytes.load(ordering: .relaxed))
            transmitted += Int(queue.txPackets.load(ordering: .relaxed))
            transmittedBytes += Int(queue.txBytes.load(ordering: .relaxed))
            transmitRingFull += Int(queue.drops(.txRingFull))
            delivered += Int(queue.delivered.load(ordering: .relaxed))
            droppedSlowConsumer += Int(queue.droppedSlowConsumer.load(ordering: .relaxed))
            sent += Int(queue.sent.load(ordering: .relaxed))
            let frames = queue.frames
            self.frames.total += frames.total
            self.frames.free += frames.free
            self.frames.receiveSide += frames.receiveSide
            self.frames.transmitSide += frames.transmitSide
        }
    }
}
