// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Lab helper (tc egress): gives every frame leaving an interface an 802.1Q
// tag out of band (skb->vlan_tci, as VLAN offload does), so the XDP RX
// metadata kfunc bpf_xdp_metadata_rx_vlan_tag has something to report on the
// other end of a veth. Used by VethLab.tagEgress(of:vlan:) only; needs no
// 8021q module. The tag (protocol << 16 | TCI) is written into `vlan_tag`.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} vlan_tag SEC(".maps");

SEC("tc")
int lab_vlan_push(struct __sk_buff *skb) {
    __u32 zero = 0;
    __u32 *tag = bpf_map_lookup_elem(&vlan_tag, &zero);
    if (tag && *tag && !skb->vlan_present)
        bpf_skb_vlan_push(skb, bpf_htons(*tag >> 16), *tag & 0xffff);
    return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
