/* SPDX-License-Identifier: GPL-2.0 */
/* The fast path: a TCP or UDP packet without IPv4 options or IPv6 extension headers, not a
 * fragment, read at fixed offsets. That is most of a balancer's traffic, and the general parser
 * costs it nearly twice the instructions. A packet of a flow in the per-CPU flow cache is
 * matched there without building a flow key and forwarded; any other such packet goes, with
 * the key it would have had from the parser, to the connection table. Every other packet, and
 * every doubt, goes on to the general path, which decides it the same way: this path decides
 * nothing that one would decide otherwise. */
#ifndef XLB_BPF_FAST_PATH_H
#define XLB_BPF_FAST_PATH_H

#include "icmp_relay.h"

/* A plain packet whose flow the cache did not serve: a TCP or UDP one goes to the connection
 * table with the key the general parser would have built (the rest to the general path). The
 * key is built only here, so that the paths that forward or pass pay nothing for it: one key
 * built up front for both the compare and this (tried) kept it on the stack across the cache
 * lookup and cost an established packet 10 -> 12-13 ns (IPv4) and 12 -> 19-21 ns (IPv6). */
static __always_inline int xlb_fast_to_table(struct xdp_md *ctx, void *data, void *data_end, __u8 family,
					     const void *src, const void *dst, const struct tcphdr *ports,
					     __u8 proto, __u32 l4_len, struct xlb_flow_cache_entry *entry)
{
	struct xlb_packet pkt __attribute__((aligned(8))) = {};
	__u32 addr_len = family == XLB_FAMILY_V4 ? 4 : 16;

	/* Not fit to forward: the general path drops it and counts why. Checked here, where a
	 * packet may cost the table, and not before the cache: a frame that matches a cached flow
	 * (its sender knows the 5-tuple) costs no state, and the real drops a bad data offset or
	 * UDP length itself; before the cache the check cost established packets about 1 ns of 11. */
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || xlb_l4_problem(proto, ports, l4_len))
		return XLB_CONTINUE;
	pkt.key.family = family;
	__builtin_memcpy(pkt.key.src, src, addr_len);
	__builtin_memcpy(pkt.key.dst, dst, addr_len);
	pkt.key.sport = ports->source;
	pkt.key.dport = ports->dest;
	pkt.key.proto = proto;
	if (proto == IPPROTO_TCP)
		pkt.tcp_flags = xlb_tcp_flags(ports);
	return xlb_table_path(ctx, data, data_end, &pkt, entry);
}

/* A TCP packet the table must see (xlb_tcp_needs_table). */
static __always_inline int xlb_tcp_control(__u8 proto, const struct tcphdr *tcp)
{
	return xlb_tcp_needs_table(proto, xlb_tcp_flags(tcp));
}

static __always_inline int xlb_fast_path_v4(struct xdp_md *ctx, void *data, void *data_end)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct xlb_flow_cache_entry *entry;
	__u32 slot, tot_len;

	/* A whole TCP header is what the general parser asks of TCP; UDP asks less, but an
	 * Ethernet frame (60 bytes at least) always has this much. */
	if ((void *)(tcp + 1) > data_end)
		return XLB_CONTINUE;
	/* The prefilter first, as in the general path: traffic to other addresses pays no more
	 * than a protocol test, which lets ICMP errors about tunnel packets (sent to the
	 * tunnel's source, an address of this node) reach the relay. */
	if (!xlb_maybe_vip(ip->daddr))
		return ip->protocol == IPPROTO_ICMP ? xlb_icmp_relay_v4(ctx) : xlb_pass();
	if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET)))
		return XLB_CONTINUE;
	tot_len = xlb_bounded_len(ip->tot_len);
	if (tot_len < sizeof(*ip) || (void *)ip + tot_len > data_end)
		return XLB_CONTINUE;
	/* Not sent to this node: the general path drops or passes it and counts why. */
	if (xlb_group_dst(data) || xlb_foreign_dst(ctx, data))
		return XLB_CONTINUE;
	slot = xlb_flow_cache_slot_folded(ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol);
	entry = bpf_map_lookup_elem(&flow_cache, &slot);
	if (!entry)
		return XLB_CONTINUE;
	/* No protocol test before the cache: only TCP and UDP flows are cached, and the key
	 * compare includes the protocol. */
	if (xlb_flow_cache_holds_v4(entry, ip->saddr, ip->daddr, tcp->source, tcp->dest, ip->protocol) &&
	    xlb_flow_cache_current(entry, bpf_jiffies64()) && !xlb_tcp_control(ip->protocol, tcp))
		return xlb_forward_cached(ctx, data, data_end, entry);
	return xlb_fast_to_table(ctx, data, data_end, XLB_FAMILY_V4, &ip->saddr, &ip->daddr, tcp, ip->protocol,
				 tot_len - sizeof(*ip), entry);
}

static __always_inline int xlb_fast_path_v6(struct xdp_md *ctx, void *data, void *data_end)
{
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip6 + 1);
	struct xlb_flow_cache_entry *entry;
	__u32 slot, dst_fold, payload_len;

	if ((void *)(tcp + 1) > data_end)
		return XLB_CONTINUE;
	dst_fold = xlb_fold_v6(&ip6->daddr);
	if (!xlb_maybe_vip(dst_fold))
		return ip6->nexthdr == IPPROTO_ICMPV6 ? xlb_icmp_relay_v6(ctx) : xlb_pass();
	payload_len = xlb_bounded_len(ip6->payload_len);
	if (ip6->version != 6 || (void *)(ip6 + 1) + payload_len > data_end)
		return XLB_CONTINUE;
	if (xlb_group_dst(data) || xlb_foreign_dst(ctx, data))
		return XLB_CONTINUE;
	slot = xlb_flow_cache_slot_folded(xlb_fold_v6(&ip6->saddr), dst_fold, tcp->source, tcp->dest, ip6->nexthdr);
	entry = bpf_map_lookup_elem(&flow_cache, &slot);
	if (!entry)
		return XLB_CONTINUE;
	/* An extension header (a fragment header too) is a next header no cached flow has, and
	 * no TCP or UDP one: it goes to the general path. */
	if (xlb_flow_cache_holds_v6(entry, ip6, tcp->source, tcp->dest, ip6->nexthdr) &&
	    xlb_flow_cache_current(entry, bpf_jiffies64()) && !xlb_tcp_control(ip6->nexthdr, tcp))
		return xlb_forward_cached(ctx, data, data_end, entry);
	return xlb_fast_to_table(ctx, data, data_end, XLB_FAMILY_V6, &ip6->saddr, &ip6->daddr, tcp, ip6->nexthdr,
				 payload_len, entry);
}

static __always_inline int xlb_fast_path(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return XLB_CONTINUE;
	/* One 16-bit load: struct ethhdr is packed, so h_proto reads as two bytes and a shift. */
	proto = *(__u16 *)((void *)eth + offsetof(struct ethhdr, h_proto));
	if (proto == bpf_htons(ETH_P_IP))
		return xlb_fast_path_v4(ctx, data, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return xlb_fast_path_v6(ctx, data, data_end);
	return XLB_CONTINUE;
}

#endif
