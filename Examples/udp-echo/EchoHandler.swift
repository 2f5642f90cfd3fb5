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
        var bytes = frame.mutableBytes
        return reflectUDP(&bytes) ? .transmit : .drop
    }
}

/// Turns a UDP datagram (Ethernet, at most two VLAN tags, IPv4 or IPv6)
/// around in place, finishing a partial checksum. Returns false, changing
/// nothing, for anything else.
@inline(__always)
func reflectUDP(_ bytes: inout MutableRawSpan) -> Bool {
    guard let packet = try? ParsedPacket.parse(bytes.bytes),
          packet.ipProtocol == ParsedPacket.protocolUDP, !packet.isFragment, packet.destinationPort != nil else { return false }
    packet.swapEndpoints(in: &bytes)                     // MAC and IP addresses, UDP ports
    if let checksum = TransportChecksum.locate(bytes.bytes), TransportChecksum.isPartial(bytes.bytes, at: checksum) {
        TransportChecksum.finish(&bytes, at: checksum)
    }
    return true
}

/// Turns a UDP datagram held in an array around (see ``reflectUDP(_:)``).
func reflectUDP(_ frame: inout [UInt8]) -> Bool {
    var span = frame.mutableSpan
    var bytes = span.mutableBytes
    return reflectUDP(&bytes)
}
