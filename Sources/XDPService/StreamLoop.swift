import Glibc
import XDP
import XDPControl

/// Copies each received packet into the batch being built, while the
/// batch's reservation lasts; the rest are counted as overflow. Every frame
/// goes back to the fill ring (`.drop`): the consumer never holds a frame.
struct CopyOutHandler: PacketHandler {
    var storage: [UInt8] = []
    var ends: [Int] = []
    var room = 0
    var overflow = 0

    /// Starts a batch with room for `room` packets.
    mutating func begin(room: Int) {
        self.room = room
        overflow = 0
        storage = []
        ends = []
        storage.reserveCapacity(room * 128)
        ends.reserveCapacity(room)
    }

    mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        if ends.count < room {
            frame.bytes.withUnsafeBytes { storage.append(contentsOf: $0) }
            ends.append(storage.count)
        } else {
            overflow += 1
        }
        return .drop
    }
}

/// The worker loop of a ``PacketStream``: received batches copied out to the
/// consumer's buffer, packets from ``PacketStream/send(_:queue:)`` copied into
/// frames and transmitted, `poll()` on the sockets and the send queue's
/// wake pipe after a round that did nothing (so a send wakes the worker at
/// once); the library's `WorkerLoop` around a ``StreamStep``.
enum StreamLoop {
    static func run(queues: inout WorkerQueues, queueIDs: [UInt32], buffer: BatchBuffer, outbox: Outbox,
                    batch: Int, stop: StopFlag, counters: [QueueCounters]) {
        var step = StreamStep(queues: queues, queueIDs: queueIDs, buffer: buffer, outbox: outbox, counters: counters)
        WorkerLoop.run(&step, batch: batch, wait: .afterEmptyRound, stop: stop)
        queues = step.queues
    }

    /// Copies pending packets into frames and queues them on their sockets'
    /// TX rings, in order, until a ring or the pool runs out; submits and kicks.
    /// Counts each one as sent (and transmitted) on its socket in `local`.
    /// - Returns: The packets queued; the rest stay pending.
    static func transmit(_ pending: inout [Outbox.Item], queues: inout WorkerQueues, local: inout [LocalQueueCounters]) -> Int {
        var queued = 0
        var touched = Set<Int>()
        while queued < pending.count {
            let item = pending[queued]
            let placed = queues.sockets.withSocket(at: item.socket) { (socket: inout Socket) -> Bool in
                if socket.tx.freeCount(wanting: 1) == 0 || queues.umem.pool.count == 0 {
                    socket.completion.drain(into: &queues.umem.pool)
                }
                guard socket.tx.freeCount(wanting: 1) > 0, var frame = queues.umem.pool.allocate() else { return false }
                frame.length = item.bytes.count
                frame.withUnsafeMutableBytes { destination in item.bytes.withUnsafeBytes { destination.copyMemory(from: $0) } }
                socket.tx.push(frame)
                return true
            }
            guard placed else { break }
            touched.insert(item.socket)
            local[item.socket].sent &+= 1
            local[item.socket].txPackets &+= 1
            queued += 1
        }
        pending.removeFirst(queued)
        for index in touched {
            queues.sockets.withSocket(at: index) { (socket: inout Socket) in
                socket.tx.submit()
                socket.kickTransmit()
            }
        }
        return queued
    }
}

/// One round of a ``PacketStream`` worker: what the consumer asked to send,
/// then a receive batch per socket copied out to the consumer's buffer.
struct StreamStep: WorkerStep, ~Copyable {
    var queues: WorkerQueues
    let queueIDs: [UInt32]
    let buffer: BatchBuffer
    let outbox: Outbox
    let counters: [QueueCounters]
    var local: [LocalQueueCounters]
    var handler = CopyOutHandler()
    /// Packets taken from the outbox and not yet on a TX ring, in order.
    var pending: [Outbox.Item] = []
    /// The sockets, then the outbox's wake pipe.
    var descriptors: [pollfd]

    init(queues: consuming WorkerQueues, queueIDs: [UInt32], buffer: BatchBuffer, outbox: Outbox, counters: [QueueCounters]) {
        local = [LocalQueueCounters](repeating: LocalQueueCounters(), count: queues.sockets.count)
        descriptors = (0..<queues.sockets.count).map { index in
            queues.sockets.withSocket(at: index) { (socket: borrowing Socket) in pollfd(fd: socket.fileDescriptor, events: Int16(POLLIN), revents: 0) }
        }
        descriptors.append(pollfd(fd: outbox.wakeFD, events: Int16(POLLIN), revents: 0))
        self.queues = queues
        self.queueIDs = queueIDs
        self.buffer = buffer
        self.outbox = outbox
        self.counters = counters
    }

    /// - Returns: Packets sent and received (0: the round did nothing).
    mutating func round(limit: Int) -> Int {
        var handled = 0
        if !pending.isEmpty || outbox.hasItems {
            if outbox.hasItems { pending += outbox.takeAll() }
            let sent = StreamLoop.transmit(&pending, queues: &queues, local: &local)
            if sent > 0 {
                handled += sent
                for index in 0..<local.count { local[index].publish(to: counters[index]) }
            }
        }
        for index in 0..<queues.sockets.count {
            let result = queues.sockets.withSocket(at: index) { (socket: inout Socket) -> BatchResult in
                // Exactly `ready` packets are taken (limit 0 when none: the
                // batch then only recycles, refills and kicks), so the
                // reservation and the copies are for this batch alone.
                let ready = socket.rx.peek(upTo: limit)
                let reserved = ready > 0 ? buffer.reserve(ready) : 0
                if ready > 0 { handler.begin(room: reserved) }
                let result = socket.receiveBatch(limit: ready, pool: &queues.umem.pool, handler: &handler)
                if ready > 0 {
                    buffer.deliver(ReceivedBatch(queue: queueIDs[index], storage: handler.storage, ends: handler.ends), reserved: reserved)
                }
                return result
            }
            guard result.packets > 0 else { continue }
            handled += result.packets
            local[index].add(result)
            local[index].delivered &+= UInt64(handler.ends.count)
            local[index].droppedSlowConsumer &+= UInt64(handler.overflow)
            local[index].publish(to: counters[index])
        }
        return handled
    }

    /// Sockets and the send queue's wake pipe: a send wakes the worker at once.
    mutating func wait() {
        _ = poll(&descriptors, nfds_t(descriptors.count), pending.isEmpty ? 10 : 1)
    }

    /// Where the worker's frames are, on its first queue's counters.
    mutating func publish() { counters[0].publish(queues.accounting) }
}
