/* SPDX-License-Identifier: GPL-2.0 */
/* The fast path: a packet of an established IPv4 TCP or UDP flow held by the per-CPU flow cache,
 * read at fixed offsets (no IP options, not a fragment) and matched without building a flow
 * key. That is most of a balancer's traffic; the general parser costs it twice the
 * instructions. Everything else, and every doubt, goes on to the general path, which decides
 * the same packet the same way: this path only ever forwards what that one would forward. */
#ifndef XLB_BPF_FAST_PATH_H
#define XLB_BPF_FAST_PATH_H

#include "forward.h"

static __always_inline int xlb_fast_established_v4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct xlb_flow_cache_entry *entry;
	__u32 slot, tot_len;

	/* A whole TCP header is what the general parser asks of TCP; UDP asks less, but an
	 * Ethernet frame (60 bytes at least) always has this much. */
	if ((void *)(tcp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XLB_CONTINUE;
	/* The prefilter first, as in the general path: traffic to other addresses pays no more. */
	if (!xlb_maybe_vip(ip->daddr, 0, 0, 0))
		return xlb_pass();
	if (*(__u8 *)ip != 0x45 || (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) ||
	    (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET)))
		return XLB_CONTINUE;
	tot_len = xlb_bounded_len(ip->tot_len);
	if (tot_len < sizeof(*ip) || (void *)ip + tot_len > data_end)
		return XLB_CONTINUE;
	slot = xlb_flow_cache_slot_folded(ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol);
	entry = bpf_map_lookup_elem(&flow_cache, &slot);
	if (!entry ||
	    !xlb_flow_cache_holds_v4(entry, ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol) ||
	    !xlb_flow_cache_current(entry, bpf_jiffies64()))
		return XLB_CONTINUE;
	return xlb_forward_cached(ctx, entry);
}

#endif
