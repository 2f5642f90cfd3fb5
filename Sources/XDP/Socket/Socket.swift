import CNetdevProbe
import CXDP
import Glibc

/// An AF_XDP socket bound to one (interface, queue), with its four rings.
///
/// The rings are stored properties so a loop can use several at once
/// (`socket.rx.receive()` then `socket.fill.push(frame)`): ``rx`` and ``tx``
/// are the socket's own, ``fill`` and ``completion`` belong to its
/// (interface, queue) on the UMEM. Closing (dropping the value) unbinds the
/// socket; the UMEM's memory stays until the UMEM and all its sockets are gone.
public struct Socket: ~Copyable, @unchecked Sendable {
    /// Received packets.
    public var rx: RXRing
    /// Packets to send.
    public var tx: TXRing
    /// Frames for the kernel to receive into.
    public var fill: FillRing
    /// Frames the kernel has sent.
    public var completion: CompletionRing

    /// The socket's file descriptor (for poll, XSKMAP registration).
    public let fileDescriptor: Int32
    /// The interface name.
    public let interface: String
    /// The interface index.
    public let interfaceIndex: UInt32
    /// The queue id.
    public let queue: UInt32
    /// Whether the kernel bound this socket in zero-copy mode (XDP_OPTIONS).
    public let isZeroCopy: Bool
    /// Whether the rings' need-wakeup flags are in use.
    public let usesNeedWakeup: Bool
    /// Whether busy polling is configured.
    public let usesBusyPoll: Bool
    /// Whether the socket takes multi-buffer packets (XDP_USE_SG): receive
    /// them with ``RXRing/receivePacket(droppingOversizedInto:)``.
    public let usesMultiBuffer: Bool
    /// Bind attempts that failed with EBUSY before this one succeeded.
    public let busyRetriesUsed: Int
    /// The most frames one copy-mode TX syscall sends: the configuration's
    /// ``SocketConfiguration/transmitBudget`` (capped at the TX ring's size)
    /// when the kernel took it, else the kernel's default of 32.
    public let transmitBudget: Int
    /// Why the kernel kept its default TX budget although a larger one was
    /// asked for: the errno of XDP_MAX_TX_SKB_BUDGET (ENOPROTOOPT before
    /// Linux 6.17, EACCES for a value it refuses), or 0 when it was applied
    /// or not asked for. Not an error: only copy-mode kicks are affected.
    public let transmitBudgetRefusal: Int32

    /// libxdp's socket, or `nil` on a directly registered UMEM (`directRings` then).
    let handle: OpaquePointer?
    let directRings: UnsafeMutablePointer<cxdp_ring_maps>?
    let ringHeaders: UnsafeMutablePointer<cxdp_ring_set>
    let storage: UMEMStorage
    let boundKey: UInt64
    /// The syscalls this socket's loops made, bumped beside each one (a
    /// plain memory increment; owned by the socket, freed with it).
    @usableFromInline let syscallCounts: UnsafeMutablePointer<SyscallCounts>

    /// Creates a socket on `umem` and binds it to `queue` of `interface`.
    ///
    /// The first socket on a UMEM uses the UMEM's own fill and completion
    /// rings; a socket on another (interface, queue) gets its own pair
    /// (XDP_SHARED_UMEM) and inherits the first socket's copy/zero-copy and
    /// need-wakeup modes, as the kernel defines.
    ///
    /// - Parameters:
    ///   - umem: The packet memory.
    ///   - interface: The interface name, in the calling thread's network namespace.
    ///   - queue: The queue id.
    ///   - configuration: Ring sizes and modes.
    /// - Throws: ``XDPError``: interface not found, queue out of range, busy
    ///   (after retries), zero-copy unsupported, no permission.
    public init(umem: borrowing UMEM, interface: String, queue: UInt32,
                configuration: SocketConfiguration = .init()) throws(XDPError) {
        try configuration.validate()
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw XDPError(.interfaceNotFound, operation: "open AF_XDP socket", errno: ENODEV,
                           hint: "interface \(interface) not found: check the name and that this process is in its network namespace (ip netns exec NS, or --netns NS)")
        }
        let queues = cxdp_interface_queue_count(interface)
        if queues > 0, queue >= UInt32(queues) {
            throw XDPError(.queueOutOfRange, operation: "bind AF_XDP socket to \(interface) queue \(queue)",
                           hint: "queue \(queue) out of range: \(interface) has \(queues) queue\(queues == 1 ? "" : "s") (ethtool -L to add channels)")
        }
        let key = UInt64(index) << 32 | UInt64(queue)
        let storage = umem.storage
        let inserted = storage.boundQueues.withLock { $0.insert(key).inserted }
        guard inserted else {
            throw XDPError(.busy, operation: "bind AF_XDP socket to \(interface) queue \(queue)", errno: EBUSY,
                           hint: "this UMEM already has a socket on \(interface) queue \(queue); one socket per (interface, queue) and UMEM")
        }

        var socketConfig = xsk_socket_config()
        socketConfig.rx_size = UInt32(configuration.rxRingSize)
        socketConfig.tx_size = UInt32(configuration.txRingSize)
        socketConfig.libxdp_flags = cxdp_libxdp_inhibit_prog_load
        var bindFlags: UInt16 = 0
        switch configuration.zeroCopy {
        case .required: bindFlags |= UInt16(XDP_ZEROCOPY)
        case .off: bindFlags |= UInt16(XDP_COPY)
        case .preferred: break
        }
        if configuration.needWakeup { bindFlags |= UInt16(XDP_USE_NEED_WAKEUP) }
        if configuration.multiBuffer { bindFlags |= UInt16(cxdp_xdp_use_sg) }
        socketConfig.bind_flags = bindFlags

        let headers = UnsafeMutablePointer<cxdp_ring_set>.allocate(capacity: 1)
        headers.initialize(to: cxdp_ring_set())
        // The first socket on the UMEM binds with the UMEM's own fill and
        // completion rings (libxdp's contract); later ones get their own.
        let usesInitialRings = storage.initialRingsClaimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
        // Undoes the claims above when no socket comes of them.
        func rollBack(releasingInitialRings: Bool) {
            headers.deallocate()
            storage.boundQueues.withLock { _ = $0.remove(key) }
            if releasingInitialRings { storage.initialRingsClaimed.withLock { $0 = false } }
        }
        var created: OpaquePointer?
        var directRings: UnsafeMutablePointer<cxdp_ring_maps>?
        let fd: Int32
        var retries = 0
        if storage.handle == nil {
            do throws(XDPError) {
                (fd, directRings, retries) = try Socket.createDirect(on: storage, first: usesInitialRings, index: index, interface: interface,
                                                                    queue: queue, bindFlags: bindFlags, headers: headers, configuration: configuration)
            } catch {
                rollBack(releasingInitialRings: usesInitialRings)
                throw error
            }
        } else {
            let ringSource = usesInitialRings ? storage.initialRings : headers
            let rc: Int32
            (rc, retries) = Socket.retryingBusy(configuration) {
                xsk_socket__create_shared(&created, interface, queue, storage.handle,
                                          &headers.pointee.rx, &headers.pointee.tx,
                                          &ringSource.pointee.fill, &ringSource.pointee.completion, &socketConfig)
            }
            guard rc == 0 else {
                rollBack(releasingInitialRings: usesInitialRings)
                throw Socket.bindError(-rc, interface: interface, queue: queue, retries: retries, configuration: configuration)
            }
            guard let created else { fatalError("libxdp returned success without a socket") }
            fd = xsk_socket__fd(created)
            if usesInitialRings {
                headers.pointee.fill = storage.initialRings.pointee.fill
                headers.pointee.completion = storage.initialRings.pointee.completion
            }
        }

        // From here on the socket exists; a failure must delete it.
        var busyPollError: XDPError?
        if let busyPoll = configuration.busyPoll {
            do {
                try SystemCall.setOption(fd, level: SOL_SOCKET, name: SO_PREFER_BUSY_POLL, value: 1, operation: "enable SO_PREFER_BUSY_POLL on \(interface) queue \(queue)")
                try SystemCall.setOption(fd, level: SOL_SOCKET, name: SO_BUSY_POLL, value: Int32(busyPoll.timeoutMicroseconds), operation: "set SO_BUSY_POLL on \(interface) queue \(queue)")
                try SystemCall.setOption(fd, level: SOL_SOCKET, name: SO_BUSY_POLL_BUDGET, value: Int32(busyPoll.budget), operation: "set SO_BUSY_POLL_BUDGET on \(interface) queue \(queue)", hint: "needs CAP_NET_ADMIN")
            } catch {
                busyPollError = error
            }
        }
        let options = try? SystemCall.getOption(fd, level: SOL_XDP, name: XDP_OPTIONS, as: xdp_options.self, operation: "read XDP_OPTIONS")
        let (budget, budgetRefusal) = Socket.raiseTransmitBudget(fd, to: min(configuration.transmitBudget, configuration.txRingSize))
        if let busyPollError {
            Socket.close(handle: created, fd: fd, directRings: directRings, storage: storage)
            rollBack(releasingInitialRings: false)  // the rings were used: the kernel sets them once
            throw busyPollError
        }

        let frameSize = storage.frameSize
        let unaligned = storage.unaligned
        rx = RXRing(headers.pointee.rx, base: storage.area, frameSize: frameSize, unaligned: unaligned)
        tx = TXRing(headers.pointee.tx, umemBase: storage.area, umemSize: storage.byteCount, frameSize: frameSize, unaligned: unaligned,
                    txMetadataLength: storage.txMetadataLength)
        fill = FillRing(headers.pointee.fill, umemBase: storage.area)
        completion = CompletionRing(headers.pointee.completion, base: storage.area, umemSize: storage.byteCount,
                                    frameSize: frameSize, unaligned: unaligned, txMetadataLength: storage.txMetadataLength)
        fileDescriptor = fd
        self.interface = interface
        interfaceIndex = index
        self.queue = queue
        isZeroCopy = (options?.flags ?? 0) & UInt32(XDP_OPTIONS_ZEROCOPY) != 0
        usesNeedWakeup = configuration.needWakeup
        usesBusyPoll = configuration.busyPoll != nil
        usesMultiBuffer = configuration.multiBuffer
        busyRetriesUsed = retries
        transmitBudget = budget
        transmitBudgetRefusal = budgetRefusal
        handle = created
        self.directRings = directRings
        ringHeaders = headers
        self.storage = storage
        boundKey = key
        syscallCounts = .allocate(capacity: 1)
        syscallCounts.initialize(to: SyscallCounts())
    }

    deinit {
        Socket.close(handle: handle, fd: fileDescriptor, directRings: directRings, storage: storage)
        ringHeaders.deallocate()
        syscallCounts.deallocate()
        storage.boundQueues.withLock { _ = $0.remove(boundKey) }
    }

    /// XDP_MAX_TX_SKB_BUDGET from linux/if_xdp.h (Linux 6.17), absent from older headers.
    static let maxTransmitSKBBudgetOption: Int32 = 9
    /// The kernel's copy-mode TX budget without the option.
    public static let kernelDefaultTransmitBudget = 32

    /// Asks the kernel to send up to `budget` frames per copy-mode TX
    /// syscall (after the TX ring exists; 0 or less than 32: not asked).
    /// - Returns: The budget in effect and, when the kernel refused, its errno.
    static func raiseTransmitBudget(_ fd: Int32, to budget: Int) -> (budget: Int, refusal: Int32) {
        guard budget > kernelDefaultTransmitBudget else { return (kernelDefaultTransmitBudget, 0) }
        var value = UInt32(budget)
        guard setsockopt(fd, SOL_XDP, maxTransmitSKBBudgetOption, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            return (kernelDefaultTransmitBudget, errno)
        }
        return (budget, 0)
    }

    /// Runs `attempt` (a bind; 0 or -errno) until it succeeds, fails with
    /// anything but EBUSY, or `configuration.busyRetries` retries are spent,
    /// sleeping 50 ms more before each retry (at most 250 ms): a queue whose
    /// previous socket just closed stays busy for up to about a second.
    /// - Returns: The last result and the retries used.
    static func retryingBusy(_ configuration: SocketConfiguration, _ attempt: () -> Int32) -> (result: Int32, retries: Int) {
        var retries = 0
        while true {
            let rc = attempt()
            guard rc == -EBUSY, retries < configuration.busyRetries else { return (rc, retries) }
            retries += 1
            usleep(UInt32(min(50_000 * retries, 250_000)))
        }
    }

    static func bindError(_ error: Int32, interface: String, queue: UInt32, retries: Int,
                          configuration: SocketConfiguration) -> XDPError {
        let operation = "bind AF_XDP socket to \(interface) queue \(queue)"
        switch error {
        case EBUSY:
            return XDPError(.busy, operation: operation, errno: EBUSY,
                            hint: "socket still bound, retried \(retries) times: another AF_XDP socket holds this queue (or one closed moments ago; try again)")
        case EOPNOTSUPP where configuration.multiBuffer, EINVAL where configuration.multiBuffer:
            var features = cxdp_xdp_features()
            let probed = cxdp_probe_xdp_features(Int32(if_nametoindex(interface)), &features) == 0 && features.reported
            let answer = probed
                ? "the kernel reports rx-sg \(features.xdp_features & 32 != 0 ? "yes" : "no"), xdp-zc-max-segs \(features.has_zc_max_segs ? String(features.xdp_zc_max_segs) : "not reported")"
                : "the kernel reports no XDP features for \(interface)"
            return XDPError(.unsupported, operation: operation, errno: error,
                            hint: "multi-buffer (XDP_USE_SG) refused on \(interface) in this mode (\(answer)): use copy mode (--zero-copy off), a frame size that fits the MTU, or a driver with multi-buffer AF_XDP")
        case EOPNOTSUPP where configuration.zeroCopy == .required, EPROTONOSUPPORT where configuration.zeroCopy == .required:
            return XDPError(.unsupported, operation: operation, errno: error,
                            hint: "zero-copy required but \(interface) does not support it: use --zero-copy preferred or off")
        case EPERM, EACCES:
            return XDPError.fromErrno(error, operation: operation, hint: "EPERM: AF_XDP sockets need CAP_NET_RAW, the program CAP_NET_ADMIN and CAP_BPF: run as root or grant them")
        default:
            return XDPError.fromErrno(error, operation: operation)
        }
    }

    /// Tells the kernel to start sending what the TX ring holds, when it asks
    /// for it (always, without need-wakeup). Transient refusals (EAGAIN,
    /// EBUSY, ENOBUFS, ENETDOWN, EINTR) are not errors: the next kick retries.
    /// Any other refusal (a driver that refuses zero-copy wakeups, a socket
    /// whose interface went away) is counted in ``syscalls``
    /// (``SyscallCounts/refusedTransmitKicks``): call ``checkTransmitKicks()``
    /// off the hot path to turn it into an error that names the fix.
    /// - Returns: Whether a syscall was made.
    // Inlined, and every field it needs read before the syscall and the
    // counter's store: a store through a pointer while `self` is borrowed
    // from a batch loop's `inout` made the compiler copy the whole 480-byte
    // `Socket` to the stack (memcpy) before every kick (callgrind, Benchmarks/README).
    @inlinable @inline(__always)
    @discardableResult
    public func kickTransmit() -> Bool {
        let fd = fileDescriptor, counts = syscallCounts
        guard !usesNeedWakeup || tx.needsWakeup else { return false }
        Socket.kickTransmit(fd, counts: counts)
        return true
    }

    /// The syscall of ``kickTransmit()``, counted (a refusal too, unless transient).
    @inlinable @inline(__always)
    static func kickTransmit(_ fd: Int32, counts: UnsafeMutablePointer<SyscallCounts>) {
        let failure = SystemCall.wakeTransmit(fd)
        counts.pointee.transmitKicks &+= 1
        if _slowPath(failure != 0) { noteTransmitKickFailure(failure, counts: counts) }
    }

    /// Counts a failed kick unless its errno is transient.
    @usableFromInline @inline(never)
    static func noteTransmitKickFailure(_ error: Int32, counts: UnsafeMutablePointer<SyscallCounts>) {
        guard !XDPError.isTransientTransmitKickError(error) else { return }
        counts.pointee.refusedTransmitKicks &+= 1
        counts.pointee.lastTransmitKickError = error
    }

    /// Throws when the kernel refused a TX kick since the socket was created
    /// for a reason that retrying does not cure (see ``kickTransmit()``).
    /// Call it off the hot path: after a loop, or now and then from a
    /// monitoring thread's view of ``syscalls``.
    /// - Throws: ``XDPError`` with the errno of the last refusal and the fix.
    public func checkTransmitKicks() throws(XDPError) {
        let counts = syscallCounts.pointee
        guard counts.refusedTransmitKicks > 0 else { return }
        throw XDPError.refusedTransmitKick(errno: counts.lastTransmitKickError, interface: interface, queue: queue,
                                           zeroCopy: isZeroCopy, refusals: counts.refusedTransmitKicks)
            ?? XDPError(.systemCall, operation: "kick TX on \(interface) queue \(queue)", errno: counts.lastTransmitKickError)
    }

    /// Lets the kernel notice new fill-ring frames (or runs a busy-poll round),
    /// when it asks for it.
    /// - Returns: Whether a syscall was made.
    @inlinable @inline(__always)
    @discardableResult
    public func wakeReceive() -> Bool {
        let fd = fileDescriptor, counts = syscallCounts  // before any store: see kickTransmit()
        guard usesBusyPoll || (usesNeedWakeup && fill.needsWakeup) else { return false }
        SystemCall.wakeReceive(fd)
        counts.pointee.receiveWakeups &+= 1
        return true
    }

    /// Waits until the RX ring has packets (or the TX ring has room), up to a timeout.
    /// - Parameters:
    ///   - forTransmit: Also wake when the socket can send (POLLOUT).
    ///   - timeoutMilliseconds: How long to wait; 0 returns at once.
    /// - Returns: Whether the socket is ready.
    @inlinable @inline(__always) @discardableResult
    public func poll(forTransmit: Bool = false, timeoutMilliseconds: Int32) -> Bool {
        let counts = syscallCounts  // before any store: see kickTransmit()
        var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN) | (forTransmit ? Int16(POLLOUT) : 0), revents: 0)
        let result = SystemCall.poll(&descriptor, timeoutMilliseconds: timeoutMilliseconds)
        counts.pointee.count(poll: result)
        return result > 0
    }

    /// The syscalls this socket's loops have made so far (xdpsock's
    /// application statistics, `-a`): read it on the socket's own thread,
    /// or after the loop stopped.
    public var syscalls: SyscallCounts { syscallCounts.pointee }

    /// The kernel's counters for this socket.
    /// - Throws: ``XDPError`` if getsockopt fails.
    public func statistics() throws(XDPError) -> SocketStatistics {
        do {
            return try SocketStatistics.read(fileDescriptor: fileDescriptor)
        } catch {
            throw XDPError(error.kind, operation: "read XDP_STATISTICS of \(interface) queue \(queue)", errno: error.errno, hint: error.hint)
        }
    }
}
