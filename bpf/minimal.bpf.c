// SPDX-License-Identifier: GPL-2.0
/* The baseline every benchmark compares with: parse Ethernet + IPv4 + TCP/UDP ports, rewrite
 * the MAC addresses and bounce the frame with XDP_TX. The least work a DR balancer can do. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Written by the benchmark so that the compiler cannot fold the rewrite away. */
volatile __u8 next_hop[ETH_ALEN];

SEC("xdp")
int xlb_minimal(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__be16 *ports;
	__u8 source[ETH_ALEN];

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return XDP_PASS;
	ports = (void *)ip + ip->ihl * 4;
	if ((void *)(ports + 2) > data_end || (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP))
		return XDP_PASS;
	__builtin_memcpy(source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_source, source, ETH_ALEN);
	for (int i = 0; i < ETH_ALEN; i++)
		eth->h_dest[i] = next_hop[i];
	return XDP_TX;
}
