// SPDX-License-Identifier: GPL-2.0
/* The baseline every benchmark compares with: parse Ethernet + IPv4 or IPv6 + TCP/UDP ports,
 * rewrite the MAC addresses and bounce the frame with XDP_TX. The least work a DR balancer can
 * do. IPv4 is tested first, so an IPv4 frame costs what it did before IPv6 was added. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Written by the benchmark so that the compiler cannot fold the rewrite away. */
volatile __u8 next_hop[ETH_ALEN];

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

SEC("xdp")
int xlb_minimal(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
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
		return bounce(eth);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		ports = (void *)(ip6 + 1);
		if ((void *)(ports + 2) > data_end || !is_tcp_or_udp(ip6->nexthdr))
			return XDP_PASS;
		return bounce(eth);
	}
	return XDP_PASS;
}
