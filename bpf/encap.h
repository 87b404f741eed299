/* SPDX-License-Identifier: GPL-2.0 */
/* lb_kind TUN: the IP packet as it came is put inside an outer IPv4 or IPv6 header to the
 * real's address (IPIP, IP6IP6, IPv4 in IPv6), optionally with UDP and a GUE header between
 * them, and sent to the next hop that the kernel's FIB names for the real. */
#ifndef XLB_BPF_ENCAP_H
#define XLB_BPF_ENCAP_H

#include "flow_cache.h"
#include "icmp_too_big.h"

#define XLB_AF_INET 2
#define XLB_AF_INET6 10
/* GUE's outer source port: the flow hash in the low bits of the dynamic range, so that the
 * path's ECMP and the real's receive queues spread flows as they would spread the clients. */
#define XLB_GUE_SPORT_BASE 0xc000
#define XLB_GUE_SPORT_MASK 0x3fff

/* xlb_encapsulate's "the frame holds the encapsulated packet now; send it to the hop", and its
 * "too big: answer with xlb_too_big(ctx, hop->mtu)" (the hop's MTU then is the inner packet's).
 * The caller answers, so that the two calls' frames are not stacked (512 bytes in all). */
#define XLB_ENCAPSULATED (-2)
#define XLB_TOO_BIG (-3)

/* The Ethernet addresses, as DR sends a frame (the IP packet stays as it is) and as an
 * encapsulated one leaves. The caller has checked that the frame holds an Ethernet header.
 * Packet stores need no alignment here (the verifier
 * asks it only of strict-alignment architectures). */
static __always_inline void xlb_rewrite(struct ethhdr *eth, const __u8 *macs)
{
	*(__u64 *)eth = *(const __u64 *)macs;
	*(__u32 *)((void *)eth + 8) = *(const __u32 *)(macs + 8);
}

/* Where an encapsulated packet goes: the next hop's MAC and the egress's, as a frame starts,
 * the egress, and its MTU (what the outer IP packet may have). */
struct xlb_hop {
	__u8 macs[2 * ETH_ALEN];
	__u32 ifindex;
	__u32 mtu;
	__u32 hash; /* the flow's, xlb_flow_key_hash() */
} __attribute__((aligned(8))); /* macs: xlb_rewrite's 8-byte load from the stack */

/* GUE version 0 with no optional fields (draft-ietf-intarea-gue): the kernel's fou in gue
 * mode and IPVS's "type gue" use this. */
struct xlb_guehdr {
	__u8 hlen_flags; /* version 0, C 0, hlen 0 */
	__u8 proto;      /* the inner IP protocol: IPPROTO_IPIP or IPPROTO_IPV6 */
	__be16 flags;
};

/* What the encapsulation takes from the inner packet. */
struct xlb_inner {
	__u32 len;  /* the IP datagram (Ethernet padding after it is not sent) */
	__u8 tos;   /* IPv4 TOS or IPv6 traffic class: DSCP and ECN, copied to the outer header */
	__u8 ttl;   /* TTL or hop limit, copied */
	__u8 proto; /* IPPROTO_IPIP or IPPROTO_IPV6: the inner family as an outer next header */
	__u8 pad;
};

/* The hash the outer headers carry, of the flow's key (an ICMP error about the flow has its
 * key too, so it travels as the flow does); computed when a packet goes through the table and
 * kept in the flow's cache entry, so that a cache hit does not redo its eight multiplications.
 * Addresses are folded as xlb_fold_v6 folds them (an IPv4 key's other words are zero). */
static __always_inline __u32 xlb_flow_key_hash(const struct xlb_flow_key *key)
{
	__u32 ports = *(const __u32 *)&key->sport;

	return xlb_finish(xlb_mix(xlb_mix(xlb_mix(0x9e3779b9, xlb_fold_v6((const void *)key->src)),
					  xlb_fold_v6((const void *)key->dst)), ports));
}

/* The callers have parsed the packet (lengths within the frame); this reads it again, bounded,
 * for the verifier and because the cache's way has kept nothing of it. */
static __always_inline int xlb_inner_of(void *data, void *data_end, struct xlb_inner *in)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return -1;
		in->len = xlb_bounded_len(ip->tot_len);
		in->tos = ip->tos;
		in->ttl = ip->ttl;
		in->proto = IPPROTO_IPIP;
		return 0;
	}
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	in->len = xlb_bounded_len(ip6->payload_len) + sizeof(*ip6);
	in->tos = ip6->priority << 4 | ip6->flow_lbl[0] >> 4;
	in->ttl = ip6->hop_limit;
	in->proto = IPPROTO_IPV6;
	return 0;
}

/* The one's complement sum of the whole inner datagram, for GUE's outer UDP checksum, derived
 * from the packet's own checksums instead of read (a loop over 1,500 bytes per packet): an
 * IPv4 header sums to zero, an ICMP message too, and a TCP, UDP or ICMPv6 segment to the
 * complement of its pseudo-header. -1 when the packet gives nothing to derive it from: UDP
 * with checksum 0, or an IPv6 extension header. */
static __always_inline __s64 xlb_inner_sum(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	__u64 pseudo;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct udphdr *udp;
		__u32 hlen, l4_len;

		if ((void *)(ip + 1) > data_end)
			return -1;
		if (ip->protocol == IPPROTO_ICMP)
			return 0;
		if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
			return -1;
		hlen = ip->ihl * 4;
		l4_len = xlb_bounded_len(ip->tot_len) - hlen;
		if (ip->protocol == IPPROTO_UDP) {
			if (hlen > 60)
				return -1;
			udp = (void *)ip + hlen;
			if ((void *)(udp + 1) > data_end || udp->check == 0)
				return -1;
		}
		pseudo = xlb_sum32(ip->saddr) + xlb_sum32(ip->daddr) + xlb_sum32(bpf_htonl(ip->protocol)) +
			 xlb_sum32(bpf_htonl(l4_len & 0xffff));
		return (__u16)~xlb_csum_fold(pseudo);
	}
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u32 *words = (__u32 *)ip6;
	__u64 header = 0;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP && ip6->nexthdr != IPPROTO_ICMPV6)
		return -1;
	if (ip6->nexthdr == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip6 + 1);

		if ((void *)(udp + 1) > data_end || udp->check == 0)
			return -1;
	}
#pragma unroll
	for (int i = 0; i < 10; i++)
		header += xlb_sum32(words[i]);
	pseudo = header - xlb_sum32(words[0]) - xlb_sum32(words[1]) + /* addresses only */
		 xlb_sum32(bpf_htonl(xlb_bounded_len(ip6->payload_len))) + xlb_sum32(bpf_htonl(ip6->nexthdr));
	return xlb_csum_fold(header + (__u16)~xlb_csum_fold(pseudo));
}

/* The outer source: the tunnel's, with the masked bits of its last word from the hash. */
static __always_inline __u32 xlb_outer_src_word(__u32 word, __u32 mask, __u32 hash)
{
	return (word & ~mask) | (hash & mask);
}

/* The outer headers are built in registers and stored once, their checksums summed from the
 * same registers: reading back a field just stored with a narrower store (a byte, a half
 * word) stalls the load until the store retires, and the first version, which summed the
 * written header, spent about 40 ns of a cold packet's time so (docs/performance.md). */

/* The outer IPv4 header; returns the one's complement sum of its addresses (the UDP
 * pseudo-header's part). */
static __always_inline __u64 xlb_put_outer_v4(struct iphdr *ip, const struct xlb_tunnel *tun,
					      const struct xlb_inner *in, __u32 hash, __u32 tot_len, __u8 proto)
{
	__u32 *w = (__u32 *)ip;
	__u32 w0 = bpf_htonl(0x45000000 | (__u32)in->tos << 16 | tot_len);
	__u32 w1 = bpf_htonl(XLB_IP_DF); /* id 0 */
	__u32 w2 = bpf_htonl((__u32)in->ttl << 24 | (__u32)proto << 16); /* check 0 */
	__u32 saddr = xlb_outer_src_word(tun->src[0], tun->src_hash_mask, hash);
	__u32 daddr = tun->dst[0];
	__u64 addresses = xlb_sum32(saddr) + xlb_sum32(daddr);

	w[0] = w0;
	w[1] = w1;
	w[2] = w2;
	w[3] = saddr;
	w[4] = daddr;
	ip->check = ~xlb_csum_fold(xlb_sum32(w0) + xlb_sum32(w1) + xlb_sum32(w2) + addresses);
	return addresses;
}

/* The outer IPv6 header, the flow label from the hash too (ECMP on the way hashes it); returns
 * the sum of its addresses. */
static __always_inline __u64 xlb_put_outer_v6(struct ipv6hdr *ip6, const struct xlb_tunnel *tun,
					      const struct xlb_inner *in, __u32 hash, __u32 payload_len, __u8 proto)
{
	__u32 *w = (__u32 *)ip6;
	__u32 src3 = xlb_outer_src_word(tun->src[3], tun->src_hash_mask, hash);
	__u64 addresses = xlb_sum32(tun->src[0]) + xlb_sum32(tun->src[1]) + xlb_sum32(tun->src[2]) + xlb_sum32(src3);

	w[0] = bpf_htonl(0x60000000 | (__u32)in->tos << 20 | (hash & 0xfffff));
	w[1] = bpf_htonl(payload_len << 16 | (__u32)proto << 8 | in->ttl);
	w[2] = tun->src[0];
	w[3] = tun->src[1];
	w[4] = tun->src[2];
	w[5] = src3;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		w[6 + i] = tun->dst[i];
		addresses += xlb_sum32(tun->dst[i]);
	}
	return addresses;
}

/* Puts the outer headers in front of the packet at ctx (an Ethernet frame of a parsed IPv4 or
 * IPv6 packet). Returns XLB_ENCAPSULATED, or the action for a packet that is not sent: too
 * big (XLB_TOO_BIG), or a drop, counted. */
static __attribute__((noinline)) int xlb_encapsulate(struct xdp_md *ctx, const struct xlb_tunnel *tun,
						     struct xlb_hop *hop)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xlb_inner in = {};
	struct ethhdr *eth;
	__u32 gue = tun->type == XLB_TUN_GUE;
	__u32 v4 = tun->family == XLB_FAMILY_V4;
	__u32 overhead = (v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr)) +
			 (gue ? sizeof(struct udphdr) + sizeof(struct xlb_guehdr) : 0);
	__u8 proto = gue ? IPPROTO_UDP : 0;
	__u64 addresses;
	__s64 inner_sum = 0;
	void *l4;

	if (xlb_inner_of(data, data_end, &in))
		return xlb_malformed();
	if (hop->mtu <= overhead)
		return xlb_drop(XLB_CTR_DROP_TUN_NO_ROUTE);
	if (in.len + overhead > hop->mtu) {
		hop->mtu -= overhead;
		return XLB_TOO_BIG;
	}
	if (gue && (!v4 || (tun->flags & XLB_TUN_F_CSUM))) {
		inner_sum = xlb_inner_sum(data, data_end);
		if (inner_sum < 0)
			return xlb_drop(XLB_CTR_DROP_TUN_NO_CSUM);
	}
	if (!gue)
		proto = in.proto;
	if (bpf_xdp_adjust_head(ctx, -(int)overhead))
		return xlb_drop(XLB_CTR_DROP_TUN_NO_HEADROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if (v4) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return xlb_malformed();
		addresses = xlb_put_outer_v4(ip, tun, &in, hop->hash, in.len + overhead, proto);
		eth->h_proto = bpf_htons(ETH_P_IP);
		l4 = ip + 1;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return xlb_malformed();
		addresses = xlb_put_outer_v6(ip6, tun, &in, hop->hash, in.len + overhead - sizeof(*ip6), proto);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		l4 = ip6 + 1;
	}
	xlb_rewrite(eth, hop->macs);
	if (gue) {
		struct udphdr *udp = l4;
		struct xlb_guehdr *guehdr = (void *)(udp + 1);
		__u16 udp_len = bpf_htons(in.len + sizeof(*udp) + sizeof(*guehdr));
		__u16 sport = bpf_htons(XLB_GUE_SPORT_BASE | (hop->hash & XLB_GUE_SPORT_MASK));
		__u16 gue_word = bpf_htons(in.proto); /* version 0, C 0, hlen 0; then the inner protocol */

		if ((void *)(guehdr + 1) > data_end)
			return xlb_malformed();
		udp->source = sport;
		udp->dest = tun->gue_port;
		udp->len = udp_len;
		udp->check = 0;
		*(__u16 *)guehdr = gue_word;
		guehdr->flags = 0;
		if (!v4 || (tun->flags & XLB_TUN_F_CSUM)) {
			/* Pseudo-header (addresses, protocol, length), then the UDP and GUE headers
			 * (length again), then the inner datagram. */
			__u64 sum = addresses + bpf_htons(IPPROTO_UDP) + 2 * (__u64)udp_len + sport + tun->gue_port +
				    gue_word + (__u64)inner_sum;
			__u16 check = ~xlb_csum_fold(sum);

			udp->check = check ? check : 0xffff;
		}
	}
	return XLB_ENCAPSULATED;
}

/* A FIB lookup's family and addresses, from an ABI family and address words. */
static __always_inline void xlb_fib_addresses(struct bpf_fib_lookup *params, __u8 family, const __u32 *src,
					      const __u32 *dst)
{
	if (family == XLB_FAMILY_V4) {
		params->family = XLB_AF_INET;
		params->ipv4_src = src[0];
		params->ipv4_dst = dst[0];
	} else {
		params->family = XLB_AF_INET6;
		__builtin_memcpy(params->ipv6_src, src, 16);
		__builtin_memcpy(params->ipv6_dst, dst, 16);
	}
}

/* The next hop for a tunnel real: an output lookup (as the node's own packets are routed)
 * restricted to the interface xlbd found the route to leave by, which follows route changes
 * and the neighbour table without xlbd. The kernel answers it only while forwarding is on for
 * that interface (net.ipv4.conf.IF.forwarding, net.ipv6.conf.IF.forwarding; checked on 6.18,
 * whatever the lookup's direction): docs/tunnel.md says what that means for the node. A
 * missing neighbour is counted and dropped, never guessed: xlbd keeps the next hop resolved.
 * Out of line, so that its 64-byte parameters are not on the stack under the encapsulation. */
static __attribute__((noinline)) int xlb_tunnel_hop(struct xdp_md *ctx, const struct xlb_tunnel *tun,
						    struct xlb_hop *hop)
{
	struct bpf_fib_lookup params = {};
	long rc;

	params.ifindex = tun->ifindex;
	xlb_fib_addresses(&params, tun->family, tun->src, tun->dst);
	rc = bpf_fib_lookup(ctx, &params, sizeof(params), BPF_FIB_LOOKUP_OUTPUT);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return xlb_drop(XLB_CTR_DROP_TUN_NO_NEIGH);
	if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED)
		return xlb_drop(XLB_CTR_DROP_TUN_FWD_DISABLED);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return xlb_drop(XLB_CTR_DROP_TUN_NO_ROUTE);
	__builtin_memcpy(hop->macs, params.dmac, ETH_ALEN);
	__builtin_memcpy(hop->macs + ETH_ALEN, params.smac, ETH_ALEN);
	hop->ifindex = params.ifindex;
	hop->mtu = params.mtu_result;
	return XLB_CONTINUE;
}

#endif
