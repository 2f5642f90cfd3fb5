import Glibc
import Testing
@testable import XDP

/// Errors name the errno as the C library does, for any errno.
@Suite("XDPError")
struct XDPErrorTests {
    @Test("errno names come from glibc (strerrorname_np), not from a table of our own")
    func errnoNames() {
        #expect(XDPError.name(of: EADDRINUSE) == "EADDRINUSE")
        #expect(XDPError.name(of: EBUSY) == "EBUSY")
        #expect(XDPError.name(of: EHOSTUNREACH) == "EHOSTUNREACH")
        #expect(XDPError.name(of: 9999) == "errno 9999")
        #expect(XDPError.fromErrno(EADDRINUSE, operation: "listen").description.contains("EADDRINUSE"))
    }
}
