/// A compiled BPF object embedded in the binary by the EmbedBPF build plugin
/// (from `bpf/NAME.bpf.c`), so no program file is read at run time.
public struct BPFObject: Sendable {
    /// The source's base name, e.g. `xdp_redirect`.
    public let name: String
    /// The ELF object bytes.
    public let bytes: [UInt8]

    /// An object from its bytes (a lab's own program, embedded in its target).
    package init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    init(name: String, base64: StaticString) {
        self.name = name
        self.bytes = base64.withUTF8Buffer { BPFObject.decodeBase64($0) }
    }

    /// Decodes standard base64 (RFC 4648, with padding), as the build writes it.
    static func decodeBase64(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for c in text {
            guard let v = value(c) else { continue }  // padding and whitespace
            accumulator = accumulator << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }
}
