import Glibc
import XDP

/// Checks that the driver takes zero-copy TX wakeups before txonly relies on
/// them. Some drivers refuse them while no XDP program is attached to the
/// interface (igb's and ixgbe's ndo_xsk_wakeup check for one): a socket bound
/// in zero-copy there sends nothing (the library counts each refused kick,
/// `SyscallCounts.refusedTransmitKicks`; this stops before the run instead).
/// Found on the emulated-NIC lab's igb (scripts/emulated-nic).
enum TransmitWakeupProbe {
    /// One kick with an empty TX ring (the kernel only calls the driver's wakeup).
    /// - Throws: `XDPError` `.unsupported` naming the fix when the driver refuses.
    static func check(_ socket: borrowing Socket) throws(XDPError) {
        guard socket.isZeroCopy else { return }
        guard sendto(socket.fileDescriptor, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0 else { return }
        if let error = XDPError.refusedTransmitKick(errno: errno, interface: socket.interface, queue: socket.queue, zeroCopy: true) {
            throw error
        }
    }
}
