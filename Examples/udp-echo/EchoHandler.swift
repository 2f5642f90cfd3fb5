import Packet
import XDP

/// Answers every UDP datagram with itself: MAC addresses, IP addresses and
/// ports swapped, in place, in the frame it arrived in. Swapping leaves the
/// IPv4 header checksum and a full UDP checksum valid; but a client with
/// checksum offload (a container's veth with default settings) sends a
/// partial checksum (the pseudo-header sum only), which the echo must finish
/// before it goes back, or the client drops the reply.
struct EchoHandler: PacketHandler {
    @inline(__always)
    mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        frame.withUnsafeMutableBytes { bytes in reflectUDP(bytes) ? .transmit : .drop }
    }
}

/// Turns a UDP datagram (Ethernet, at most two VLAN tags, IPv4 or IPv6)
/// around in place, finishing a partial checksum. Returns false, changing
/// nothing, for anything else.
@inline(__always)
func reflectUDP(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
    guard let packet = try? ParsedPacket.parse(UnsafeRawBufferPointer(bytes)),
          packet.ipProtocol == ParsedPacket.protocolUDP, !packet.isFragment, packet.destinationPort != nil else { return false }
    let (addressOffset, addressLength) = packet.ipVersion == 4 ? (packet.l3Offset + 12, 4) : (packet.l3Offset + 8, 16)
    swap(bytes, 0, 6, count: 6)                                                    // MAC addresses
    swap(bytes, addressOffset, addressOffset + addressLength, count: addressLength) // IP addresses
    swap(bytes, packet.l4Offset, packet.l4Offset + 2, count: 2)                     // UDP ports
    if let checksum = TransportChecksum.locate(UnsafeRawBufferPointer(bytes)),
       TransportChecksum.isPartial(UnsafeRawBufferPointer(bytes), at: checksum) {
        TransportChecksum.finish(bytes, at: checksum)
    }
    return true
}

@inline(__always)
private func swap(_ bytes: UnsafeMutableRawBufferPointer, _ a: Int, _ b: Int, count: Int) {
    for index in 0..<count { bytes.swapAt(a + index, b + index) }
}
