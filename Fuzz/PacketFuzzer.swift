// libFuzzer entry point: every input is a frame that must satisfy
// PacketProperties (parsing inside bounds, forwarding decisions and rewrites
// as promised). Built by scripts/fuzz.sh with -sanitize=fuzzer,address
// together with Sources/Packet and Tests/PacketTests/PacketProperties.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func packetFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let frame = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
    let violations = PacketProperties.violations(frame)
    if !violations.isEmpty { fatalError("packet property violated: \(violations.joined(separator: "; "))") }
    return 0
}
