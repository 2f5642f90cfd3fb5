import Foundation
import XDP
import XDPControl

/// An AF_XDP endpoint on the lab's peer end that sends packets and collects
/// what comes back (the redirect program on the peer end feeds it).
public struct PeerEndpoint: ~Copyable {
    var umem: UMEM
    var socket: Socket
    let program: XDPProgram

    public init(namespace: String, interface: String) throws(XDPError) {
        // A 2048-entry fill ring: half the 4096 frames stay in the pool for
        // sending (exchange refills from the pool it sends from).
        var umem = try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> UMEM in
            try UMEM(configuration: UMEMConfiguration(fillRingSize: 2048))
        }
        var socket = try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> Socket in try Socket(umem: umem, interface: interface, queue: 0) }
        let program = try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> XDPProgram in try XDPProgram(interface: interface, mode: .native) }
        try program.register(socket)
        socket.fill.refill(from: &umem.pool, upTo: 2048)
        self.umem = umem
        self.socket = socket
        self.program = program
    }

    /// Sends `packets` (a window at a time) and returns what came back.
    public mutating func exchange(_ packets: [[UInt8]], timeout: Double) -> [[UInt8]] {
        var received: [[UInt8]] = []
        var next = 0
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < packets.count && Date() < deadline {
            socket.completion.drain(into: &umem.pool)
            let pushed = push(packets, from: &next, upTo: received.count + 256)
            socket.kickPendingTransmit()
            let ready = socket.rx.peek(upTo: 64)
            for _ in 0..<ready {
                let frame = socket.rx.receive()
                received.append(bytesOf(frame))
                umem.pool.release(frame)
            }
            if ready > 0 { socket.rx.release() }
            socket.fill.refill(from: &umem.pool, upTo: 256)
            if ready == 0 && pushed == 0 { socket.poll(timeoutMilliseconds: 1) }
        }
        return received
    }
}

extension PeerEndpoint {
    /// Copies `packets[next...]` into frames on the TX ring while it has room,
    /// up to index `limit`, and submits them. Returns how many.
    mutating func push(_ packets: [[UInt8]], from next: inout Int, upTo limit: Int) -> Int {
        var pushed = 0
        while next < min(packets.count, limit), socket.tx.freeCount(wanting: 1) > 0, var frame = umem.pool.allocate() {
            let packet = packets[next]
            frame.length = packet.count
            frame.withUnsafeMutableBytes { buffer in packet.withUnsafeBytes { if $0.count > 0 { buffer.copyMemory(from: $0) } } }
            socket.tx.push(frame)
            next += 1
            pushed += 1
        }
        if pushed > 0 { socket.tx.submit() }
        return pushed
    }

    /// Sends `packets` as fast as the TX ring takes them, answers ignored
    /// (received frames go straight back to the fill ring), and waits for
    /// their completions.
    /// - Returns: How many completed (sent, or refused as invalid by the kernel).
    public mutating func blast(_ packets: [[UInt8]], timeout: Double) -> Int {
        var next = 0
        var completed = 0
        let deadline = Date().addingTimeInterval(timeout)
        while completed < packets.count && Date() < deadline {
            completed += socket.completion.drain(into: &umem.pool)
            let pushed = push(packets, from: &next, upTo: packets.count)
            socket.kickPendingTransmit()
            let ready = socket.rx.peek(upTo: 64)
            for _ in 0..<ready { umem.pool.release(socket.rx.receive()) }
            if ready > 0 { socket.rx.release() }
            socket.fill.refill(from: &umem.pool, upTo: 256)
            if pushed == 0 { socket.poll(forTransmit: true, timeoutMilliseconds: 1) }
        }
        return completed
    }
}

/// A frame's packet bytes, copied out.
public func bytesOf(_ frame: borrowing Frame) -> [UInt8] {
    frame.bytes.withUnsafeBytes { Array($0) }
}
