#!/usr/bin/env python3
"""Writes the packet fuzzer's seed corpus (Fuzz/corpus/packet): real frames
of every kind the parser and the L3 forwarder know, and malformed ones.
Deterministic: running it again rewrites the same files."""
import os, struct, hashlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "packet")

def checksum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def eth(ethertype, dst=b"\x02\0\0\0\x01\x01", src=b"\x02\0\0\0\x00\x07"):
    return dst + src + struct.pack("!H", ethertype)

def ipv4(dst, payload, ttl=64, proto=17, ihl=5, version=4, total=None, frag=0, good_checksum=True, src=0xC6120007):
    options = b"\x01" * ((ihl - 5) * 4) if ihl > 5 else b""
    length = total if total is not None else 20 + len(options) + len(payload)
    header = struct.pack("!BBHHHBBHII", (version << 4) | (ihl & 0xf), 0, length & 0xffff, 1, frag, ttl, proto, 0, src, dst) + options
    c = checksum(header) if good_checksum else 0x1234
    header = header[:10] + struct.pack("!H", c) + header[12:]
    return header + payload

def udp(sport=1234, dport=9, payload=b"x" * 18):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def ipv6(dst_high, dst_low, payload, hop=64, next_header=17, plen=None, version=6):
    length = plen if plen is not None else len(payload)
    src = struct.pack("!QQ", 0x20010db800000000, 7)
    dst = struct.pack("!QQ", dst_high, dst_low)
    return struct.pack("!IHBB", version << 28, length & 0xffff, next_header, hop) + src + dst + payload

def vlan(tags, ethertype, body):
    """`tags` 802.1Q tags (TCI 100, 101, ...) in front of `ethertype`."""
    out = eth(0x8100)
    for i in range(tags):
        out += struct.pack("!H", 100 + i) + struct.pack("!H", 0x8100 if i < tags - 1 else ethertype)
    return out + body

DEFAULT4 = 0x08080808          # via the default gateway
CONNECTED4 = 0xC6120007        # 198.18.0.7, neighbor known
LOCAL4 = 0xC6120001
frames = {
    "ipv4-udp-default": eth(0x0800) + ipv4(DEFAULT4, udp()),
    "ipv4-udp-connected": eth(0x0800) + ipv4(CONNECTED4, udp()),
    "ipv4-udp-local": eth(0x0800) + ipv4(LOCAL4, udp()),
    "ipv4-tcp": eth(0x0800) + ipv4(DEFAULT4, struct.pack("!HHIIBBHHH", 1, 80, 0, 0, 0x50, 2, 1024, 0, 0), proto=6),
    "ipv4-ttl1": eth(0x0800) + ipv4(DEFAULT4, udp(), ttl=1),
    "ipv4-ttl0": eth(0x0800) + ipv4(DEFAULT4, udp(), ttl=0),
    "ipv4-bad-checksum": eth(0x0800) + ipv4(DEFAULT4, udp(), good_checksum=False),
    "ipv4-options": eth(0x0800) + ipv4(DEFAULT4, udp(), ihl=7),
    "ipv4-ihl4": eth(0x0800) + ipv4(DEFAULT4, udp(), ihl=4),
    "ipv4-ihl15-short": eth(0x0800) + ipv4(DEFAULT4, b"", ihl=15)[:30],
    "ipv4-version5": eth(0x0800) + ipv4(DEFAULT4, udp(), version=5),
    "ipv4-total-beyond": eth(0x0800) + ipv4(DEFAULT4, udp(), total=1400),
    "ipv4-total-short": eth(0x0800) + ipv4(DEFAULT4, udp(), total=12),
    "ipv4-fragment": eth(0x0800) + ipv4(DEFAULT4, udp(), frag=0x2000),
    "ipv4-later-fragment": eth(0x0800) + ipv4(DEFAULT4, b"y" * 24, frag=0x0003),
    "ipv4-over-mtu": eth(0x0800) + ipv4(DEFAULT4, udp(payload=b"z" * 1460)),
    "ipv4-truncated": (eth(0x0800) + ipv4(DEFAULT4, udp()))[:30],
    "ipv4-broadcast-mac": eth(0x0800, dst=b"\xff" * 6) + ipv4(DEFAULT4, udp()),
    "vlan1-ipv4": vlan(1, 0x0800, ipv4(DEFAULT4, udp())),
    "vlan2-ipv4": vlan(2, 0x0800, ipv4(DEFAULT4, udp())),
    "vlan3-ipv4": vlan(3, 0x0800, ipv4(DEFAULT4, udp())),
    "vlan-truncated": vlan(1, 0x0800, b"")[:16],
    "arp": eth(0x0806, dst=b"\xff" * 6) + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + b"\x02\0\0\0\0\x07" + struct.pack("!I", CONNECTED4) + b"\0" * 6 + struct.pack("!I", LOCAL4),
    "ipv6-udp-default": eth(0x86DD) + ipv6(0x20010db800010000, 9, udp()),
    "ipv6-udp-connected": eth(0x86DD) + ipv6(0x20010db800000000, 7, udp()),
    "ipv6-local": eth(0x86DD) + ipv6(0x20010db800000000, 1, udp()),
    "ipv6-hop1": eth(0x86DD) + ipv6(0x20010db800010000, 9, udp(), hop=1),
    "ipv6-hop-by-hop": eth(0x86DD) + ipv6(0x20010db800010000, 9, b"\x11\0" + b"\0" * 6 + udp(), next_header=0),
    "ipv6-payload-beyond": eth(0x86DD) + ipv6(0x20010db800010000, 9, udp(), plen=2000),
    "ipv6-version4": eth(0x86DD) + ipv6(0x20010db800010000, 9, udp(), version=4),
    "ipv6-truncated": (eth(0x86DD) + ipv6(0x20010db800010000, 9, udp()))[:40],
    "ipv6-multicast": eth(0x86DD, dst=b"\x33\x33\0\0\0\x01") + ipv6(0xff02000000000000, 1, udp()),
    "ethernet-only": eth(0x0800),
    "runt": b"\x02\0\0\0\x01\x01\x02\0\0\0",
    "empty": b"",
    "unknown-ethertype": eth(0x88B5) + b"\0" * 46,
}

os.makedirs(OUT, exist_ok=True)
for name, frame in sorted(frames.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(frame)
print(f"{len(frames)} seed frames in {OUT}")
