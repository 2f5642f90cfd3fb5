import CXDP
import Glibc
import Testing
import XDP
import XDPControl

/// Every bad input gets a typed error naming the problem and the fix.
@Suite("Errors", .serialized)
struct ErrorTests {
    @Test("an interface that does not exist")
    func interfaceNotFound() throws {
        let lab = try makeLab()
        let error = #expect(throws: XDPError.self) {
            _ = try openEndpoint(namespace: lab.deviceNamespace, interface: "xd9")
        }
        #expect(error?.kind == .interfaceNotFound)
        #expect(error?.description.contains("interface xd9 not found") == true)
        let programError = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in try XDPProgram(interface: "xd9") }
        }
        #expect(programError?.kind == .interfaceNotFound)
    }

    @Test("a queue beyond the interface's queues")
    func queueOutOfRange() throws {
        let lab = try makeLab(queues: 1)
        let error = #expect(throws: XDPError.self) {
            _ = try openEndpoint(namespace: lab.deviceNamespace, interface: lab.links[0].deviceInterface, queue: 3)
        }
        #expect(error?.kind == .queueOutOfRange)
        #expect(error?.description.contains("queue 3 out of range: \(lab.links[0].deviceInterface) has 1 queue") == true, "\(String(describing: error))")
    }

    @Test("UMEM layouts the kernel would reject", arguments: [
        (UMEMConfiguration(frameSize: 3000), "frame size 3000 not a power of two"),
        (UMEMConfiguration(frameSize: 1024), "frame size 1024"),
        (UMEMConfiguration(frameCount: 0), "frame count 0"),
        (UMEMConfiguration(headroom: 4000), "headroom 4000"),
        (UMEMConfiguration(fillRingSize: 1000), "fill ring size 1000 must be a power of two"),
        (UMEMConfiguration(completionRingSize: 0), "completion ring size 0"),
    ])
    func badUMEM(configuration: UMEMConfiguration, message: String) {
        let error = #expect(throws: XDPError.self) { _ = try UMEM(configuration: configuration) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("socket options the kernel would reject")
    func badSocketConfiguration() throws {
        let lab = try makeLab()
        for (configuration, message) in [
            (SocketConfiguration(rxRingSize: 1000), "RX ring size 1000 must be a power of two"),
            (SocketConfiguration(txRingSize: 3), "TX ring size 3"),
            (SocketConfiguration(busyPoll: BusyPollConfiguration(timeoutMicroseconds: 0)), "busy-poll"),
        ] {
            let error = #expect(throws: XDPError.self) {
                _ = try openEndpoint(namespace: lab.deviceNamespace, interface: lab.links[0].deviceInterface, socket: configuration)
            }
            #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        }
    }

    @Test("zero-copy required on a driver without it (veth)")
    func zeroCopyRequired() throws {
        let lab = try makeLab()
        let error = #expect(throws: XDPError.self) {
            _ = try openEndpoint(namespace: lab.deviceNamespace, interface: lab.links[0].deviceInterface,
                                 socket: SocketConfiguration(zeroCopy: .required))
        }
        #expect(error?.kind == .unsupported || error?.kind == .invalidConfiguration, "\(String(describing: error))")
        #expect(error?.description.contains("zero-copy") == true || error?.errno == EOPNOTSUPP, "\(String(describing: error))")
        // Preferred falls back to copy mode and says so.
        let endpoint = try openEndpoint(namespace: lab.deviceNamespace, interface: lab.links[0].deviceInterface,
                                        socket: SocketConfiguration(zeroCopy: .preferred))
        #expect(endpoint.socket.isZeroCopy == false)
    }

    @Test("huge pages asked for but none reserved")
    func hugePagesMissing() throws {
        // No free huge page while it lives (the pool shrunk to the pages in
        // use, given back after; other huge-page tests wait meanwhile).
        let none = try HugePageReservation(pages: 0, exact: true)
        let error = #expect(throws: XDPError.self) { _ = try UMEM(configuration: UMEMConfiguration(hugePages: true)) }
        #expect(error?.kind == .outOfMemory)
        #expect(error?.description.contains("nr_hugepages") == true, "\(String(describing: error))")
        _ = none
    }

    @Test("no CAP_NET_ADMIN / CAP_BPF / CAP_NET_RAW: EPERM naming the capabilities")
    func missingCapabilities() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let networkCapabilities: UInt64 = 1 << 12 | 1 << 13 | 1 << 21 | 1 << 38 | 1 << 39  // NET_ADMIN, NET_RAW, SYS_ADMIN, PERFMON, BPF
        let socketError = try lab.inDevice { () throws(XDPError) -> XDPError? in
            try withoutCapabilities(networkCapabilities) { () throws(XDPError) -> XDPError? in
                do throws(XDPError) {
                    let umem = try UMEM()
                    _ = try Socket(umem: umem, interface: link.deviceInterface, queue: 0)
                } catch { return error }
                return nil
            }
        }
        #expect(socketError?.kind == .permissionDenied, "\(String(describing: socketError))")
        #expect(socketError?.description.contains("CAP_NET_RAW") == true)

        // Loading and attaching the program: the namespace is entered first, then capabilities dropped.
        let programError = try lab.inDevice { () throws(XDPError) -> XDPError? in
            try withoutCapabilities(networkCapabilities) { () throws(XDPError) -> XDPError? in
                do throws(XDPError) { _ = try XDPProgram(interface: link.deviceInterface) } catch { return error }
                return nil
            }
        }
        #expect(programError?.kind == .permissionDenied, "\(String(describing: programError))")
        #expect(programError?.description.contains("CAP_BPF") == true)
    }

    @Test("memlock limit below the UMEM without CAP_IPC_LOCK: ENOMEM naming the limit")
    func memlockTooLow() async throws {
        try requireRoot()
        // In a child process (an exit test): the memlock limit is the
        // process's, and suites running beside this one must never see it lowered.
        // Exit codes: 1 wrong error, 2 limit not lowered, 3 capability not dropped.
        await #expect(processExitsWith: .exitCode(0)) {
            let original = cxdp_memlock_limit()
            guard cxdp_set_memlock_limit(min(original, 1 << 20)) == 0 else {
                exit(2)
            }
            var found: XDPError?
            do throws(XDPError) {
                found = try withoutCapabilities(1 << 14) { () throws(XDPError) -> XDPError? in  // CAP_IPC_LOCK
                    do throws(XDPError) { _ = try UMEM(configuration: UMEMConfiguration(frameCount: 4096, frameSize: 4096)) } catch { return error }
                    return nil
                }
            } catch {
                exit(3)
            }
            guard let error = found, error.kind == .outOfMemory || error.kind == .permissionDenied,
                  error.description.contains("memlock") else {
                exit(1)
            }
            exit(0)
        }
    }
}

/// Runs `body` with `mask`'s capabilities cleared from this thread's
/// effective set, and restores them after.
func withoutCapabilities<R>(_ mask: UInt64, _ body: () throws(XDPError) -> R) throws(XDPError) -> R {
    try requireRoot()
    let rc = cxdp_drop_effective_capabilities(mask)
    guard rc == 0 else { throw XDPError.fromErrno(-rc, operation: "drop capabilities") }
    defer { precondition(cxdp_restore_effective_capabilities() == 0, "could not restore capabilities") }
    return try body()
}
