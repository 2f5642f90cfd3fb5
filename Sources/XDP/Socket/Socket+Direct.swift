import CXDP
import Glibc

extension Socket {
    /// Creates and binds a socket on a UMEM registered directly (TX
    /// metadata), the way libxdp does on its UMEMs: the first socket is the
    /// UMEM's own (it registered it) and gets the fill and completion rings;
    /// later ones are new sockets with their own pair, bound with
    /// XDP_SHARED_UMEM.
    /// - Returns: The socket, its ring mappings, and the EBUSY retries used.
    static func createDirect(on storage: UMEMStorage, first: Bool, index: UInt32, interface: String, queue: UInt32,
                             bindFlags: UInt16, headers: UnsafeMutablePointer<cxdp_ring_set>,
                             configuration: SocketConfiguration) throws(XDPError) -> (Int32, UnsafeMutablePointer<cxdp_ring_maps>, Int) {
        if first, storage.directRingsSetUp.withLock({ done in defer { done = true }; return done }) {
            throw XDPError(.invalidConfiguration, operation: "bind AF_XDP socket to \(interface) queue \(queue)", errno: EINVAL,
                           hint: "this UMEM's own socket failed to bind before, and the kernel sets a socket's rings only once: make a new UMEM")
        }
        let fd = first ? storage.directFD : cxdp_xsk_socket()
        guard fd >= 0 else { throw XDPError.fromErrno(-fd, operation: "open an AF_XDP socket on \(interface) queue \(queue)") }
        let maps = UnsafeMutablePointer<cxdp_ring_maps>.allocate(capacity: 1)
        maps.initialize(to: cxdp_ring_maps())
        func fail(_ error: XDPError) -> XDPError {
            close(handle: nil, fd: fd, directRings: maps, storage: storage)
            return error
        }
        let rc = cxdp_xsk_setup_rings(fd, UInt32(configuration.rxRingSize), UInt32(configuration.txRingSize),
                                      UInt32(storage.fillRingSize), UInt32(storage.completionRingSize),
                                      &headers.pointee.rx, &headers.pointee.tx, &headers.pointee.fill, &headers.pointee.completion, maps)
        if rc != 0 { throw fail(XDPError.fromErrno(-rc, operation: "set up the rings of an AF_XDP socket on \(interface) queue \(queue)")) }
        let (bound, retries) = retryingBusy(configuration) {
            cxdp_xsk_bind(fd, index, queue, bindFlags, first ? -1 : storage.directFD)
        }
        if bound == 0 { return (fd, maps, retries) }
        throw fail(bindError(-bound, interface: interface, queue: queue, retries: retries, configuration: configuration))
    }

    /// Closes a socket made either way. A directly registered UMEM's own
    /// socket stays open (the UMEM closes it); its rings are unmapped.
    static func close(handle: OpaquePointer?, fd: Int32, directRings: UnsafeMutablePointer<cxdp_ring_maps>?, storage: UMEMStorage) {
        if let handle { xsk_socket__delete(handle) }
        if let directRings {
            cxdp_xsk_unmap_rings(directRings)
            directRings.deallocate()
            if fd != storage.directFD { SystemCall.close(fd) }
        }
    }
}
