/* SPDX-License-Identifier: GPL-2.0 */
/* The fast path: a packet of an established TCP or UDP flow held by the per-CPU flow cache,
 * read at fixed offsets (no IPv4 options, no IPv6 extension header, not a fragment) and matched
 * without building the general parser's flow key. That is most of a balancer's traffic, and
 * the general parser costs it nearly twice the instructions. Everything else, and every doubt,
 * goes on to the general path, which decides the same packet the same way: this path only
 * ever forwards what that one would forward. */
#ifndef XLB_BPF_FAST_PATH_H
#define XLB_BPF_FAST_PATH_H

#include "forward.h"

static __always_inline int xlb_fast_forward(struct xdp_md *ctx, void *data, void *data_end,
					    struct xlb_flow_cache_entry *entry)
{
	if (!xlb_flow_cache_current(entry, bpf_jiffies64()))
		return XLB_CONTINUE;
	return xlb_forward_cached(ctx, data, data_end, entry);
}

static __always_inline int xlb_fast_established_v4(struct xdp_md *ctx, void *data, void *data_end)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct xlb_flow_cache_entry *entry;
	__u32 slot, tot_len;

	/* A whole TCP header is what the general parser asks of TCP; UDP asks less, but an
	 * Ethernet frame (60 bytes at least) always has this much. */
	if ((void *)(tcp + 1) > data_end)
		return XLB_CONTINUE;
	/* The prefilter first, as in the general path: traffic to other addresses pays no more. */
	if (!xlb_maybe_vip(ip->daddr, 0, 0, 0))
		return xlb_pass();
	/* The protocol needs no test: only TCP and UDP flows are ever cached, and the key
	 * compare below includes it. */
	if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET)))
		return XLB_CONTINUE;
	tot_len = xlb_bounded_len(ip->tot_len);
	if (tot_len < sizeof(*ip) || (void *)ip + tot_len > data_end)
		return XLB_CONTINUE;
	slot = xlb_flow_cache_slot_folded(ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol);
	entry = bpf_map_lookup_elem(&flow_cache, &slot);
	if (!entry || !xlb_flow_cache_holds_v4(entry, ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol))
		return XLB_CONTINUE;
	return xlb_fast_forward(ctx, data, data_end, entry);
}

static __always_inline int xlb_fast_established_v6(struct xdp_md *ctx, void *data, void *data_end)
{
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip6 + 1);
	const __u32 *src = ip6->saddr.in6_u.u6_addr32, *dst = ip6->daddr.in6_u.u6_addr32;
	struct xlb_flow_cache_entry *entry;
	__u32 slot;

	if ((void *)(tcp + 1) > data_end)
		return XLB_CONTINUE;
	if (!xlb_maybe_vip(dst[0], dst[1], dst[2], dst[3]))
		return xlb_pass();
	/* An extension header (a fragment header too) is a next header no cached flow has. */
	if (ip6->version != 6 || (void *)(ip6 + 1) + xlb_bounded_len(ip6->payload_len) > data_end)
		return XLB_CONTINUE;
	slot = xlb_flow_cache_slot_folded(src[0] ^ src[1] ^ src[2] ^ src[3], dst[0] ^ dst[1] ^ dst[2] ^ dst[3],
					  tcp->source, tcp->dest, ip6->nexthdr);
	entry = bpf_map_lookup_elem(&flow_cache, &slot);
	if (!entry || !xlb_flow_cache_holds_v6(entry, ip6, tcp->source, tcp->dest, ip6->nexthdr))
		return XLB_CONTINUE;
	return xlb_fast_forward(ctx, data, data_end, entry);
}

static __always_inline int xlb_fast_established(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XLB_CONTINUE;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return xlb_fast_established_v4(ctx, data, data_end);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return xlb_fast_established_v6(ctx, data, data_end);
	return XLB_CONTINUE;
}

#endif
