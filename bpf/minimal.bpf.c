// SPDX-License-Identifier: GPL-2.0
/* The baselines every benchmark compares with.
 *
 * xlb_minimal: parse Ethernet + IPv4 or IPv6 + TCP/UDP ports, rewrite the MAC addresses and
 * bounce the frame with XDP_TX. The least work a DR balancer can do. IPv4 is tested first, so
 * an IPv4 frame costs what it did before IPv6 was added.
 *
 * xlb_minimal_table: the same, plus the least a balancer that keeps its flows in the kernel's
 * LRU hash table does per packet: look the flow up and, when it is not there, insert it. No
 * scheduling, no timestamps, no counters. Its cost over xlb_minimal is what the table costs on
 * this machine at the table's size, the floor under any such balancer's new and cold flows. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xlb/xlb_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Written by the benchmark so that the compiler cannot fold the rewrite away. */
volatile __u8 next_hop[ETH_ALEN];

/* xlbd's connection table, keys and values as xlbd's: the benchmark sizes it and sets its LRU
 * flags as xlbd does (flow_map_entries, flow_map_flags) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_flow);
	__uint(max_entries, 4096);
} flows SEC(".maps");

static __always_inline int bounce(struct ethhdr *eth)
{
	__u8 source[ETH_ALEN];

	__builtin_memcpy(source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_source, source, ETH_ALEN);
	for (int i = 0; i < ETH_ALEN; i++)
		eth->h_dest[i] = next_hop[i];
	return XDP_TX;
}

static __always_inline int is_tcp_or_udp(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* Looks the flow up in the table and inserts it when it is not there. */
static __always_inline void remember(struct xlb_flow_key *key, const __be16 *ports, __u8 proto, __u8 family)
{
	key->sport = ports[0];
	key->dport = ports[1];
	key->proto = proto;
	key->family = family;
	if (!bpf_map_lookup_elem(&flows, key)) {
		struct xlb_flow flow = { .real_id = 1 };

		bpf_map_update_elem(&flows, key, &flow, BPF_ANY);
	}
}

/* Both baselines; `with_table` is a constant, so xlb_minimal compiles to the code it had
 * before the table variant existed. */
static __always_inline int baseline(struct xdp_md *ctx, const int with_table)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_flow_key key __attribute__((aligned(8))) = {};
	__be16 *ports;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return XDP_PASS;
		ports = (void *)ip + ip->ihl * 4;
		if ((void *)(ports + 2) > data_end || !is_tcp_or_udp(ip->protocol))
			return XDP_PASS;
		if (with_table) {
			key.src[0] = ip->saddr;
			key.dst[0] = ip->daddr;
			remember(&key, ports, ip->protocol, XLB_FAMILY_V4);
		}
		return bounce(eth);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		ports = (void *)(ip6 + 1);
		if ((void *)(ports + 2) > data_end || !is_tcp_or_udp(ip6->nexthdr))
			return XDP_PASS;
		if (with_table) {
			__builtin_memcpy(key.src, &ip6->saddr, sizeof(key.src));
			__builtin_memcpy(key.dst, &ip6->daddr, sizeof(key.dst));
			remember(&key, ports, ip6->nexthdr, XLB_FAMILY_V6);
		}
		return bounce(eth);
	}
	return XDP_PASS;
}

SEC("xdp")
int xlb_minimal(struct xdp_md *ctx)
{
	return baseline(ctx, 0);
}

SEC("xdp")
int xlb_minimal_table(struct xdp_md *ctx)
{
	return baseline(ctx, 1);
}
