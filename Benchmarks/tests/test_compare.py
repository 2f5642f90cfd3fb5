"""Unit tests of compare.py's counter parsing (no root, no lab):
python3 -m unittest discover -s Benchmarks/tests"""
import json, os, sys, unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import compare  # noqa: E402

ETHTOOL = """NIC statistics:
     peer_ifindex: 5
     rx_queue_0_xdp_packets: 1200
     rx_queue_0_xdp_bytes: 76800
     rx_queue_1_xdp_packets: 34
     rx_queue_0_xdp_drops: 7
"""

IP_LINK = json.dumps([{"ifindex": 4, "ifname": "bc1d0", "stats64": {
    "rx": {"bytes": 640000, "packets": 10000, "errors": 0, "dropped": 3},
    "tx": {"bytes": 0, "packets": 0}}}])


class ParseTests(unittest.TestCase):
    def test_ethtool_sums_every_queue_and_nothing_else(self):
        self.assertEqual(compare.parse_ethtool_xdp_packets(ETHTOOL), 1234)

    def test_ethtool_without_xdp_counters_is_zero(self):
        self.assertEqual(compare.parse_ethtool_xdp_packets("NIC statistics:\n     peer_ifindex: 5\n"), 0)

    def test_ip_link_reads_rx_packets(self):
        self.assertEqual(compare.parse_ip_link_rx_packets(IP_LINK), 10000)

    def test_ip_link_garbage_is_zero(self):
        self.assertEqual(compare.parse_ip_link_rx_packets(""), 0)
        self.assertEqual(compare.parse_ip_link_rx_packets("[]"), 0)
        self.assertEqual(compare.parse_ip_link_rx_packets('[{"ifname": "x"}]'), 0)


class OfferedTests(unittest.TestCase):
    def test_native_uses_napi_input(self):
        self.assertEqual(compare.offered_delta((100, 100), (1100, 1100)), (1000, "napi"))

    def test_generic_falls_back_to_rx_packets(self):
        # veth's per-queue XDP counters stay at zero when packets take netif_rx's backlog.
        self.assertEqual(compare.offered_delta((0, 500), (0, 90500)), (90000, "rx_packets"))

    def test_nothing_offered_is_zero(self):
        self.assertEqual(compare.offered_delta((5, 5), (5, 5)), (0, "rx_packets"))


if __name__ == "__main__":
    unittest.main()
