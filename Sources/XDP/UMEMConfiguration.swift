/// How a ``UMEM`` is laid out.
public struct UMEMConfiguration: Sendable, Equatable {
    /// Frames in the UMEM. Every frame is in exactly one place at a time
    /// (pool, fill, kernel, RX, application, TX, completion).
    public var frameCount: Int
    /// Bytes per frame: 2048 or 4096 (a power of two, at most the page size).
    public var frameSize: Int
    /// Bytes reserved in front of every received packet for the application
    /// (on top of the kernel's 256-byte XDP headroom).
    public var headroom: Int
    /// Entries in each fill ring (a power of two).
    public var fillRingSize: Int
    /// Entries in each completion ring (a power of two).
    public var completionRingSize: Int
    /// Back the UMEM with 2 MiB huge pages (they must be reserved:
    /// `/proc/sys/vm/nr_hugepages`).
    public var hugePages: Bool

    /// Creates a configuration; defaults suit one socket on one queue.
    public init(frameCount: Int = 4096, frameSize: Int = 2048, headroom: Int = 0,
                fillRingSize: Int = 2048, completionRingSize: Int = 2048, hugePages: Bool = false) {
        self.frameCount = frameCount
        self.frameSize = frameSize
        self.headroom = headroom
        self.fillRingSize = fillRingSize
        self.completionRingSize = completionRingSize
        self.hugePages = hugePages
    }

    /// The kernel's XDP headroom in front of every received packet.
    public static let kernelHeadroom = 256

    /// Checks the values the kernel would reject, with a message naming the field.
    /// - Throws: ``XDPError`` of kind `.invalidConfiguration`.
    public func validate() throws(XDPError) {
        func fail(_ message: String) -> XDPError {
            XDPError(.invalidConfiguration, operation: "UMEM configuration", hint: message)
        }
        guard frameSize == 2048 || frameSize == 4096 else {
            throw fail("frame size \(frameSize) not a power of two in aligned mode: use 2048 or 4096")
        }
        guard frameCount > 0, frameCount <= 1 << 24 else {
            throw fail("frame count \(frameCount) must be between 1 and \(1 << 24)")
        }
        guard headroom >= 0, headroom + UMEMConfiguration.kernelHeadroom + 64 <= frameSize else {
            throw fail("headroom \(headroom) leaves no room for a packet in a \(frameSize)-byte frame (at most \(frameSize - UMEMConfiguration.kernelHeadroom - 64))")
        }
        for (name, size) in [("fill ring size", fillRingSize), ("completion ring size", completionRingSize)] {
            guard size > 0, size & (size - 1) == 0 else {
                throw fail("\(name) \(size) must be a power of two")
            }
        }
    }

    /// Bytes of the whole region.
    public var byteCount: Int { frameCount * frameSize }
}
