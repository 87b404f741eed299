// SPDX-License-Identifier: GPL-2.0
/* xlb-realserver's decapsulation: a tc ingress program on a real server's interface that takes
 * the outer headers off what an xlb balancer sends in lb_kind TUN (IPIP, IP6IP6, IPv4 in IPv6,
 * GUE to gue_port), so that the inner packet reaches the VIP on lo; for kernels and hosts
 * without the ipip, ip6_tunnel or fou modules. Everything else passes untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* The GUE port to decapsulate, network order; 0: no GUE. Set before load. */
const volatile __u16 gue_port = 0;

/* Not in Debian 12's uapi headers (kernel 6.3+). */
#define XLB_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define XLB_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#define XLB_GUE_LEN 4

/* Removes `outer` bytes after the Ethernet header; the inner family (IPPROTO_IPIP or
 * IPPROTO_IPV6) becomes the frame's EtherType. */
static __always_inline int decap(struct __sk_buff *skb, __u32 outer, __u8 inner)
{
	__u16 proto = inner == IPPROTO_IPIP ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	__u64 flags = inner == IPPROTO_IPIP ? XLB_F_ADJ_ROOM_DECAP_L3_IPV4 : XLB_F_ADJ_ROOM_DECAP_L3_IPV6;

	if (bpf_skb_adjust_room(skb, -(__s32)outer, BPF_ADJ_ROOM_MAC, flags))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* What follows an outer header of `len` bytes whose next header is `next`. */
static __always_inline int after_outer(struct __sk_buff *skb, void *l4, void *data_end, __u32 len, __u8 next)
{
	if (next == IPPROTO_IPIP || next == IPPROTO_IPV6)
		return decap(skb, len, next);
	if (next == IPPROTO_UDP && gue_port) {
		struct udphdr *udp = l4;
		__u8 *gue = (void *)(udp + 1);

		if ((void *)(gue + XLB_GUE_LEN) > data_end || udp->dest != gue_port)
			return TC_ACT_OK;
		/* Version 0, no optional fields: what the balancer sends. */
		if (gue[0] != 0 || (gue[1] != IPPROTO_IPIP && gue[1] != IPPROTO_IPV6))
			return TC_ACT_OK;
		return decap(skb, len + sizeof(*udp) + XLB_GUE_LEN, gue[1]);
	}
	return TC_ACT_OK;
}

SEC("tc")
int xlb_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
			return TC_ACT_OK;
		return after_outer(skb, ip + 1, data_end, sizeof(*ip), ip->protocol);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_OK;
		return after_outer(skb, ip6 + 1, data_end, sizeof(*ip6), ip6->nexthdr);
	}
	return TC_ACT_OK;
}
