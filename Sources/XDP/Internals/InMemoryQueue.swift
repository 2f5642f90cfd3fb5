import CXDP

/// One socket's four rings and its UMEM's frame pool over memory of the
/// process's own, with a stand-in for the kernel's side of the rings: the
/// batch loops' own code (``Socket/receiveBatch(limit:pool:handler:)`` and
/// ``Socket/transmitBatch(limit:pool:length:)`` less their syscalls), run
/// without a socket or privileges. For benchmarks (the nested `Benchmarks/`
/// package) and tests; not for data paths.
///
/// Safety: the ring words, entries and packet area are allocated here, never
/// shared, and freed in `deinit`, after which the rings (which hold pointers
/// into them but free nothing) go too. The kernel side (``kernelStep(packets:length:)``)
/// writes only the indices and entries the kernel owns by the ring protocol,
/// on the same thread.
@_spi(Benchmarks)
public struct InMemoryQueue: ~Copyable {
    /// Received packets.
    public var rx: RXRing
    /// Packets to send.
    public var tx: TXRing
    /// Frames for the stand-in kernel to receive into.
    public var fill: FillRing
    /// Frames the stand-in kernel has sent.
    public var completion: CompletionRing
    /// The free frames.
    public var pool: FramePool

    /// Producer, consumer and flags words of the four rings (fill, RX, TX, completion).
    let words: UnsafeMutablePointer<UInt32>
    let fillEntries: UnsafeMutablePointer<UInt64>
    let rxEntries: UnsafeMutablePointer<xdp_desc>
    let txEntries: UnsafeMutablePointer<xdp_desc>
    let completionEntries: UnsafeMutablePointer<UInt64>
    let area: UnsafeMutableRawPointer
    let fillSize: UInt32
    let ringSize: UInt32

    /// Creates the rings with every frame in the pool.
    /// - Parameters:
    ///   - frameCount: Frames in the UMEM stand-in.
    ///   - frameSize: Bytes per frame.
    ///   - ringSize: Entries in the RX, TX and completion rings (a power of two).
    ///   - fillRingSize: Entries in the fill ring (a power of two).
    public init(frameCount: Int = 4096, frameSize: Int = 2048, ringSize: Int = 2048, fillRingSize: Int = 4096) {
        precondition(ringSize > 0 && ringSize & (ringSize - 1) == 0 && fillRingSize > 0 && fillRingSize & (fillRingSize - 1) == 0,
                     "ring sizes must be powers of two")
        let words = UnsafeMutablePointer<UInt32>.allocate(capacity: 12)
        words.initialize(repeating: 0, count: 12)
        self.words = words
        let fillEntries = UnsafeMutablePointer<UInt64>.allocate(capacity: fillRingSize)
        let rxEntries = UnsafeMutablePointer<xdp_desc>.allocate(capacity: ringSize)
        let txEntries = UnsafeMutablePointer<xdp_desc>.allocate(capacity: ringSize)
        let completionEntries = UnsafeMutablePointer<UInt64>.allocate(capacity: ringSize)
        (self.fillEntries, self.rxEntries, self.txEntries, self.completionEntries) = (fillEntries, rxEntries, txEntries, completionEntries)
        let area = UnsafeMutableRawPointer.allocate(byteCount: frameCount * frameSize, alignment: 4096)
        area.initializeMemory(as: UInt8.self, repeating: 0, count: frameCount * frameSize)
        self.area = area
        let fillSize = UInt32(fillRingSize)
        self.fillSize = fillSize
        self.ringSize = UInt32(ringSize)
        func producer(_ index: Int, _ entries: UnsafeMutableRawPointer, size: UInt32) -> xsk_ring_prod {
            var ring = xsk_ring_prod()
            ring.mask = size - 1
            ring.size = size
            ring.cached_cons = size
            ring.producer = words + 3 * index
            ring.consumer = words + 3 * index + 1
            ring.flags = words + 3 * index + 2
            ring.ring = entries
            return ring
        }
        func consumer(_ index: Int, _ entries: UnsafeMutableRawPointer, size: UInt32) -> xsk_ring_cons {
            var ring = xsk_ring_cons()
            ring.mask = size - 1
            ring.size = size
            ring.producer = words + 3 * index
            ring.consumer = words + 3 * index + 1
            ring.flags = words + 3 * index + 2
            ring.ring = entries
            return ring
        }
        let umemSize = frameCount * frameSize
        fill = FillRing(producer(0, UnsafeMutableRawPointer(fillEntries), size: fillSize), umemBase: area)
        rx = RXRing(consumer(1, UnsafeMutableRawPointer(rxEntries), size: UInt32(ringSize)), base: area, frameSize: frameSize)
        tx = TXRing(producer(2, UnsafeMutableRawPointer(txEntries), size: UInt32(ringSize)), umemBase: area, umemSize: umemSize, frameSize: frameSize)
        completion = CompletionRing(consumer(3, UnsafeMutableRawPointer(completionEntries), size: UInt32(ringSize)),
                                    base: area, umemSize: umemSize, frameSize: frameSize)
        pool = FramePool(base: area, frameCount: frameCount, frameSize: frameSize, dataOffset: UMEMConfiguration.kernelHeadroom)
    }

    deinit {
        words.deallocate()
        fillEntries.deallocate()
        rxEntries.deallocate()
        txEntries.deallocate()
        completionEntries.deallocate()
        area.deallocate()
    }

    /// The kernel's side, once: up to `limit` frames from the fill ring come
    /// back on the RX ring as received `length`-byte packets (as far as the RX
    /// ring has room), and every packet on the TX ring completes.
    public func kernelStep(packets limit: Int, length: UInt32) {
        let fillProducer = words[0], rxConsumer = words[4]
        var fillConsumer = words[1], rxProducer = words[3]
        let room = ringSize &- (rxProducer &- rxConsumer)
        let taken = min(fillProducer &- fillConsumer, room, UInt32(clamping: limit))
        for _ in 0..<taken {
            let address = fillEntries[Int(fillConsumer & (fillSize &- 1))]
            rxEntries[Int(rxProducer & (ringSize &- 1))] = xdp_desc(addr: address &+ UInt64(UMEMConfiguration.kernelHeadroom), len: length, options: 0)
            fillConsumer &+= 1
            rxProducer &+= 1
        }
        words[1] = fillConsumer
        words[3] = rxProducer
        var txConsumer = words[7], completionProducer = words[9]
        let sent = words[6] &- txConsumer
        for _ in 0..<sent {
            completionEntries[Int(completionProducer & (ringSize &- 1))] = txEntries[Int(txConsumer & (ringSize &- 1))].addr
            txConsumer &+= 1
            completionProducer &+= 1
        }
        words[7] = txConsumer
        words[9] = completionProducer
    }

    /// One receive batch: ``Socket/receiveBatch(limit:pool:handler:)``'s code
    /// without its syscalls, for either packet kind (the handler's; the
    /// stand-in kernel sends one-frame packets, so a chain handler sees
    /// chains of one frame).
    /// - Parameters:
    ///   - limit: The most packets to take.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did.
    @inlinable
    public mutating func receiveBatch<Handler: BatchHandler>(limit: Int, handler: inout Handler) -> BatchResult {
        Socket.receive(limit: limit, rx: &rx, fill: &fill, tx: &tx, completion: &completion, pool: &pool, handler: &handler)
    }

    /// One transmit batch: ``Socket/transmitBatch(limit:pool:length:)``'s code without its syscall.
    /// - Parameters:
    ///   - limit: The most packets to queue.
    ///   - length: Bytes per packet.
    /// - Returns: What was queued.
    @inlinable
    public mutating func transmitBatch(limit: Int, length: Int) -> BatchResult {
        Socket.transmit(limit: limit, tx: &tx, completion: &completion, pool: &pool, length: length, as: Frame.self)
    }

    /// One transmit batch of either packet kind:
    /// ``Socket/transmitBatch(limit:pool:length:as:)``'s code without its syscall.
    /// - Parameters:
    ///   - limit: The most packets to queue.
    ///   - length: Bytes per packet.
    ///   - kind: ``Frame`` or ``FramePacket``.
    /// - Returns: What was queued.
    @inlinable
    public mutating func transmitBatch<Packet: RingPacket & ~Copyable>(limit: Int, length: Int, as kind: Packet.Type) -> BatchResult {
        Socket.transmit(limit: limit, tx: &tx, completion: &completion, pool: &pool, length: length, as: kind)
    }

    /// Where the frames are now.
    public var accounting: FrameAccounting {
        FrameAccounting(total: pool.capacity, free: pool.count, receiveSide: Int(fill.produced &- rx.consumed),
                        transmitSide: Int(tx.produced &- completion.consumed))
    }
}
