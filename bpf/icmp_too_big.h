/* SPDX-License-Identifier: GPL-2.0 */
/* Path MTU for lb_kind TUN. A packet that would exceed the egress MTU once encapsulated is
 * answered as a router with the smaller MTU would answer it: ICMP "fragmentation needed"
 * (IPv4 with DF) or ICMPv6 "packet too big", from the VIP to the client, out of the interface
 * the packet came in by, quoting the packet's first XLB_TOO_BIG_QUOTE bytes and giving the MTU
 * minus the tunnel's overhead. An IPv4 packet without DF is dropped (XDP does not fragment). */
#ifndef XLB_BPF_ICMP_TOO_BIG_H
#define XLB_BPF_ICMP_TOO_BIG_H

#include "parse.h"

/* Bytes of the packet quoted: its IP and transport headers, which is what the client's stack
 * matches the error to its socket by. A fixed length, so that one bpf_csum_diff of a constant
 * size covers the message; a packet too big for a tunnel is always longer. */
#define XLB_TOO_BIG_QUOTE 128
/* Errors sent per second by the node, over all CPUs (as a router's icmp_ratelimit would); the
 * relay of routers' errors to clients (bpf/icmp_relay.h) counts against the same limit. */
#define XLB_TOO_BIG_PER_SEC 1000
#define XLB_ICMP_FRAG_NEEDED 4
#define XLB_ICMPV6_PKT_TOOBIG 2
#define XLB_IP_DF 0x4000
#define XLB_ICMP_TTL 64

/* The rate limit's window, shared by every CPU and updated without a lock: under contention a
 * few errors more than the limit may leave in a second, which is harmless. A global, not a
 * pinned map: a restarted program may start a fresh window. */
__u64 too_big_window_start SEC(".data.too_big");
__u32 too_big_window_sent SEC(".data.too_big");

static __always_inline int xlb_too_big_allowed(void)
{
	__u64 now = bpf_ktime_get_coarse_ns();

	if (now - too_big_window_start >= 1000000000ull) {
		too_big_window_start = now;
		too_big_window_sent = 0;
	}
	if (too_big_window_sent >= XLB_TOO_BIG_PER_SEC)
		return 0;
	__sync_fetch_and_add(&too_big_window_sent, 1);
	return 1;
}

static __always_inline __u16 xlb_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* The 16-bit words of a 32-bit word as it lies in memory, summed (one's complement sums are
 * byte-order neutral as long as every word is taken as it lies). */
static __always_inline __u64 xlb_sum32(__u32 w)
{
	return (w & 0xffff) + (w >> 16);
}

/* The Ethernet addresses swapped: the error goes back the way the packet came. */
static __always_inline void xlb_reply_eth(struct ethhdr *eth, const __u8 *from_src, const __u8 *from_dst, __u16 proto)
{
	__builtin_memcpy(eth->h_dest, from_src, ETH_ALEN);
	__builtin_memcpy(eth->h_source, from_dst, ETH_ALEN);
	eth->h_proto = proto;
}

/* Room for the error's headers in front, and the frame cut to `len` bytes in all; 0 on success. */
static __always_inline int xlb_reshape(struct xdp_md *ctx, __u32 headers, __u32 len)
{
	if (bpf_xdp_adjust_head(ctx, -(int)headers))
		return -1;
	return bpf_xdp_adjust_tail(ctx, (int)len - (int)(ctx->data_end - ctx->data));
}

static __always_inline int xlb_too_big_v4(struct xdp_md *ctx, __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct xlb_icmphdr *icmp;
	__u8 client_mac[ETH_ALEN], own_mac[ETH_ALEN];
	__u32 client, vip;
	__s64 sum;
	const __u32 len = sizeof(*eth) + sizeof(*ip) + sizeof(*icmp) + XLB_TOO_BIG_QUOTE;

	if ((void *)ip + XLB_TOO_BIG_QUOTE > data_end)
		return xlb_malformed(); /* cannot be: see XLB_TOO_BIG_QUOTE */
	if (!(ip->frag_off & bpf_htons(XLB_IP_DF)))
		return xlb_drop(XLB_CTR_DROP_TUN_TOO_BIG_NO_DF);
	if (!xlb_too_big_allowed())
		return xlb_drop(XLB_CTR_DROP_TUN_TOO_BIG_LIMITED);
	__builtin_memcpy(client_mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(own_mac, eth->h_dest, ETH_ALEN);
	client = ip->saddr;
	vip = ip->daddr;
	if (xlb_reshape(ctx, sizeof(*ip) + sizeof(*icmp), len))
		return xlb_drop(XLB_CTR_DROP_TUN_NO_HEADROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) + XLB_TOO_BIG_QUOTE > data_end)
		return xlb_malformed();
	xlb_reply_eth(eth, client_mac, own_mac, bpf_htons(ETH_P_IP));
	*(__u8 *)ip = 0x45;
	ip->tos = 0xc0; /* internetwork control, as the kernel's own ICMP errors */
	ip->tot_len = bpf_htons(len - sizeof(*eth));
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = XLB_ICMP_TTL;
	ip->protocol = IPPROTO_ICMP;
	ip->check = 0;
	ip->saddr = vip;
	ip->daddr = client;
	icmp->type = XLB_ICMP_DEST_UNREACH;
	icmp->code = XLB_ICMP_FRAG_NEEDED;
	icmp->checksum = 0;
	icmp->rest = bpf_htonl(mtu & 0xffff); /* 16 unused bits, then the next-hop MTU */
	sum = bpf_csum_diff(0, 0, (__be32 *)icmp, sizeof(*icmp) + XLB_TOO_BIG_QUOTE, 0);
	icmp->checksum = ~xlb_csum_fold((__u64)sum);
	sum = bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0);
	ip->check = ~xlb_csum_fold((__u64)sum);
	return xlb_verdict(XDP_TX, XLB_CTR_TUN_TOO_BIG);
}

static __always_inline int xlb_too_big_v6(struct xdp_md *ctx, __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct icmp6hdr *icmp;
	__u8 client_mac[ETH_ALEN], own_mac[ETH_ALEN];
	struct in6_addr client, vip;
	__u64 sum;
	const __u32 len = sizeof(*eth) + sizeof(*ip6) + sizeof(*icmp) + XLB_TOO_BIG_QUOTE;
	const __u32 icmp_len = sizeof(*icmp) + XLB_TOO_BIG_QUOTE;

	if ((void *)ip6 + XLB_TOO_BIG_QUOTE > data_end)
		return xlb_malformed(); /* cannot be: see XLB_TOO_BIG_QUOTE */
	if (!xlb_too_big_allowed())
		return xlb_drop(XLB_CTR_DROP_TUN_TOO_BIG_LIMITED);
	__builtin_memcpy(client_mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(own_mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(&client, &ip6->saddr, sizeof(client));
	__builtin_memcpy(&vip, &ip6->daddr, sizeof(vip));
	if (xlb_reshape(ctx, sizeof(*ip6) + sizeof(*icmp), len))
		return xlb_drop(XLB_CTR_DROP_TUN_NO_HEADROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	icmp = (void *)(ip6 + 1);
	if ((void *)(icmp + 1) + XLB_TOO_BIG_QUOTE > data_end)
		return xlb_malformed();
	xlb_reply_eth(eth, client_mac, own_mac, bpf_htons(ETH_P_IPV6));
	*(__be32 *)ip6 = bpf_htonl(0x60000000);
	ip6->payload_len = bpf_htons(icmp_len);
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = XLB_ICMP_TTL;
	__builtin_memcpy(&ip6->saddr, &vip, sizeof(vip));
	__builtin_memcpy(&ip6->daddr, &client, sizeof(client));
	icmp->icmp6_type = XLB_ICMPV6_PKT_TOOBIG;
	icmp->icmp6_code = 0;
	icmp->icmp6_cksum = 0;
	icmp->icmp6_mtu = bpf_htonl(mtu);
	/* The pseudo-header: both addresses, the length and the next header. */
	sum = (__u64)bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 2 * sizeof(struct in6_addr), 0);
	sum += xlb_sum32(bpf_htonl(icmp_len)) + xlb_sum32(bpf_htonl(IPPROTO_ICMPV6));
	sum += (__u64)bpf_csum_diff(0, 0, (__be32 *)icmp, icmp_len, 0);
	icmp->icmp6_cksum = ~xlb_csum_fold(sum);
	return xlb_verdict(XDP_TX, XLB_CTR_TUN_TOO_BIG);
}

/* Out of line: rare, and called from the cache's and the table's way to a tunnel real. `mtu`
 * is what the inner packet may have. */
static __attribute__((noinline)) int xlb_too_big(struct xdp_md *ctx, __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return xlb_malformed();
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return xlb_too_big_v4(ctx, mtu);
	return xlb_too_big_v6(ctx, mtu);
}

#endif
