import Testing
@testable import XDPControl

@Suite("Redirect match and embedded program")
struct RedirectMatchEncodingTests {
    @Test("the map value mirrors struct match_config")
    func encoding() {
        #expect(RedirectMatch.everything.mapValue == [UInt8](repeating: 0, count: 16))
        let udp = RedirectMatch.udp(ports: 9000...9010)
        #expect(udp.mapValue == [1, 0, 0, 0, 0, 0, 17, 1, 0x28, 0x23, 0x32, 0x23, 0, 0, 0, 0])
        let ipv6 = RedirectMatch(ethertype: 0x86dd)
        #expect(ipv6.mapValue == [1, 0, 0, 0, 0xdd, 0x86, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(RedirectMatch.forwardable.mapValue == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    }

    @Test("base64 decoding of the embedded object")
    func base64() {
        let decoded = "aGVsbG8sIHdvcmxkIQ==".utf8.withContiguousStorageIfAvailable { BPFObject.decodeBase64($0) }
        #expect(decoded.map { String(decoding: $0, as: UTF8.self) } == "hello, world!")
    }

    @Test("the redirect program is embedded: an ELF object for BPF")
    func embedded() {
        let bytes = BPFObject.xdpRedirect.bytes
        #expect(bytes.count > 1000)
        #expect(Array(bytes.prefix(4)) == [0x7f, 0x45, 0x4c, 0x46], "ELF magic")
        #expect(bytes[18] == 247 && bytes[19] == 0, "e_machine EM_BPF")
    }
}

@Suite("RedirectMatch map value round trip")
struct RedirectMatchDecodingTests {
    @Test("what the program's map holds decodes back to the match, and reads as xdpctl writes it",
          arguments: [(RedirectMatch.everything, "all"), (.udp(ports: 9000...9009), "udp:9000-9009"), (.tcp(ports: 80...80), "tcp:80"),
                      (.ipProtocol(47), "protocol:47"), (.ethertype(0x88b5), "ethertype:0x88b5")])
    func roundTrip(match: RedirectMatch, text: String) throws {
        let decoded = try #require(RedirectMatch(mapValue: match.mapValue))
        #expect(decoded == match)
        #expect(decoded.description == text)
        #expect(RedirectMatch.forwardable.description.hasPrefix("router"))
    }
}
