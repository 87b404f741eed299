/* SPDX-License-Identifier: GPL-2.0 */
/* Path MTU beyond the balancer for lb_kind TUN. A router between the balancer and a real that
 * cannot pass an encapsulated packet answers the tunnel's outer source, this node, quoting the
 * outer packet: IPIP, IPv6 in IPv6, IPv4 in IPv6, or UDP to the tunnel's GUE port with the
 * GUE header and then the client's packet. No tunnel device here acts on that, so the error is
 * relayed to the client as IPVS's ip_vs_in_icmp does: when the quoted outer packet went to the
 * real the quoted client packet's flow is tunnelled to (the connection table says which), the
 * client gets an error of the same type and code from the VIP, quoting its own packet as far as
 * the router quoted it; "fragmentation needed" and "packet too big" give the router's MTU minus
 * the tunnel's overhead. The error is reshaped where it lies (the client's packet is already
 * in place after the quoted outer headers), and its checksum is the router's, adjusted for what
 * was cut and rewritten: a corrupt error stays corrupt, and the client's stack drops it. */
#ifndef XLB_BPF_ICMP_RELAY_H
#define XLB_BPF_ICMP_RELAY_H

#include "table_path.h"

#define XLB_GUE_LEN (sizeof(struct udphdr) + sizeof(struct xlb_guehdr))
#define XLB_IPV4_MIN_MTU 68
#define XLB_IPV6_MIN_MTU 1280
#define XLB_ICMP_HOST_UNREACH 1
#define XLB_ICMP_PORT_UNREACH 3
#define XLB_ICMP_HOST_ANO 10 /* host administratively prohibited */

/* What the error says, gathered before the frame is reshaped. */
struct xlb_relay {
	struct xlb_flow_key key; /* the client's flow, from the quoted inner packet */
	__u64 removed;           /* one's complement sum of the checksummed bytes cut or rewritten */
	__u32 rest;              /* the answer's second ICMP word, network order */
	__u32 cut;               /* bytes taken off the front: the error's headers and the quoted
				  * tunnel headers, less the answer's IP and ICMP headers */
	__u32 quote_len;         /* bytes of the client's packet quoted (to the error's end) */
	__u8 type;               /* the answer's ICMP type and code (in the client's family) */
	__u8 code;
	__u8 pad[2];
};

/* A tunnel error handed to the kernel, counted: one out-of-line copy, as xlb_drop. */
static __attribute__((noinline)) int xlb_relay_pass(__u32 counter)
{
	return xlb_verdict(XDP_PASS, counter);
}

/* What a tunnel adds: the outer header, and UDP + GUE. */
static __always_inline __u32 xlb_tunnel_overhead(__u32 outer_v6, __u32 gue)
{
	return (outer_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) + (gue ? XLB_GUE_LEN : 0);
}

/* Whether the quoted outer packet (source src, destination dst, the real's family's words;
 * gue: UDP to gue_port) is one the balancer sent for the key's flow: the connection table
 * names the flow's real, whose tunnel has that destination, that source (its hashed bits
 * aside) and that kind. Expired flows count: the packet was sent while the flow lived. */
static __always_inline int xlb_relay_ours(const struct xlb_flow_key *key, const __u32 *src, const __u32 *dst,
					  __u32 outer_v6, __u32 gue, __u16 gue_port)
{
	struct xlb_flow *flow = bpf_map_lookup_elem(&flows, key);
	struct xlb_tunnel *tun;
	__u32 real_id, last = outer_v6 ? 3 : 0;

	if (!flow || !xlb_find_vip(key))
		return 0;
	real_id = flow->real_id;
	tun = bpf_map_lookup_elem(&tunnels, &real_id);
	if (!tun || tun->family != (outer_v6 ? XLB_FAMILY_V6 : XLB_FAMILY_V4))
		return 0;
	if (tun->type != (gue ? XLB_TUN_GUE : XLB_TUN_IPIP) || (gue && tun->gue_port != gue_port))
		return 0;
	if (outer_v6 && (tun->dst[1] != dst[1] || tun->dst[2] != dst[2] || tun->dst[3] != dst[3] ||
			 tun->src[0] != src[0] || tun->src[1] != src[1] || tun->src[2] != src[2]))
		return 0;
	/* The source's hashed bits are in its last word (docs/tunnel.md, tunnel_source). */
	return tun->dst[0] == dst[0] && !((tun->src[last] ^ src[last]) & ~tun->src_hash_mask);
}

/* The client's packet at `inner`, of which the error quotes `room` bytes (negative: the
 * error ends before it), read into the relay's key. XLB_CONTINUE, or the counter the error is
 * passed with. */
static __always_inline int xlb_relay_inner(void *inner, void *data_end, __s32 room, __u32 inner_v6,
					   struct xlb_relay *r)
{
	__be16 *ports;
	__s32 need = 4; /* the ports */

	if (inner_v6) {
		struct ipv6hdr *ip6 = inner;

		if ((void *)(ip6 + 1) > data_end || room < (__s32)sizeof(*ip6) || ip6->version != 6)
			return XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE;
		/* Only what the balancer tunnels a flow of without extension headers. */
		if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP)
			return XLB_CTR_PASS_TUN_ICMP_UNKNOWN;
		ports = (void *)(ip6 + 1);
		need += sizeof(*ip6);
		r->key.family = XLB_FAMILY_V6;
		r->key.proto = ip6->nexthdr;
		xlb_copy_v6(r->key.src, &ip6->saddr);
		xlb_copy_v6(r->key.dst, &ip6->daddr);
	} else {
		struct iphdr *ip = inner;

		if ((void *)(ip + 1) > data_end || room < (__s32)sizeof(*ip) || ip->version != 4 || ip->ihl < 5)
			return XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE;
		/* Not a first fragment: no ports, and the balancer tunnels no fragments. */
		if (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET))
			return XLB_CTR_PASS_TUN_ICMP_UNKNOWN;
		if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
			return XLB_CTR_PASS_TUN_ICMP_UNKNOWN;
		ports = inner + ip->ihl * 4;
		need += ip->ihl * 4;
		r->key.family = XLB_FAMILY_V4;
		r->key.proto = ip->protocol;
		r->key.src[0] = ip->saddr;
		r->key.dst[0] = ip->daddr;
	}
	if ((void *)(ports + 2) > data_end || room < need)
		return XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE;
	r->key.sport = ports[0];
	r->key.dport = ports[1];
	return XLB_CONTINUE;
}

/* "Fragmentation needed" / "packet too big": the MTU the client may use, the router's less
 * the tunnel's overhead, never below its family's minimum (counted: at that size the client's
 * packets still do not fit; docs/tunnel.md). XLB_CONTINUE, or the drop counter. */
static __always_inline int xlb_relay_mtu(struct xlb_relay *r, void *inner, void *data_end, __u32 reported,
					 __u32 overhead)
{
	__u32 v6 = r->key.family == XLB_FAMILY_V6;
	__u32 floor = v6 ? XLB_IPV6_MIN_MTU : XLB_IPV4_MIN_MTU;
	__u32 mtu;

	if (!v6) {
		struct iphdr *ip = inner;

		if ((void *)(ip + 1) > data_end)
			return XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE;
		/* The client does not discover the path: it would not act on the error, and the
		 * balancer does not fragment (IPVS sends nothing either). */
		if (!(ip->frag_off & bpf_htons(XLB_IP_DF)))
			return XLB_CTR_DROP_TUN_ICMP_NO_DF;
	}
	if (reported < overhead + floor) {
		mtu = floor;
		xlb_count(XLB_CTR_TUN_ICMP_MTU_CLAMPED);
	} else {
		mtu = reported - overhead;
	}
	if (!v6 && mtu > 0xffff)
		mtu = 0xffff;
	r->rest = bpf_htonl(mtu);
	return XLB_CONTINUE;
}

/* ICMPv6 type and code as ICMPv4 ones, for an IPv4 client behind an IPv6 tunnel (RFC 7915's
 * translation: "no route", "beyond scope", "address unreachable" -> host unreachable,
 * "administratively prohibited" and the policy codes -> host prohibited). */
static __always_inline void xlb_relay_v6_to_v4_type(struct xlb_relay *r, __u8 type, __u8 code)
{
	if (type == ICMPV6_TIME_EXCEED) {
		r->type = XLB_ICMP_TIME_EXCEEDED;
		r->code = code;
	} else if (type == ICMPV6_PKT_TOOBIG) {
		r->type = XLB_ICMP_DEST_UNREACH;
		r->code = XLB_ICMP_FRAG_NEEDED;
	} else {
		r->type = XLB_ICMP_DEST_UNREACH;
		r->code = code == ICMPV6_PORT_UNREACH ? XLB_ICMP_PORT_UNREACH :
			  code == ICMPV6_ADM_PROHIBITED || code > ICMPV6_ADDR_UNREACH ? XLB_ICMP_HOST_ANO :
			  XLB_ICMP_HOST_UNREACH;
	}
}

/* Where the answer goes: the FIB's next hop towards the client, as a packet from the VIP that
 * came in by the error's interface would be forwarded (the client may be behind another
 * interface than the real). A client whose next hop's MAC the node does not know is not
 * answered: no guessing. XLB_CONTINUE with the frame's MACs and the egress, or the drop counter. */
static __always_inline int xlb_relay_route(struct xdp_md *ctx, const struct xlb_flow_key *key, __u8 *macs,
					   __u32 *ifindex)
{
	struct bpf_fib_lookup params = {};
	long rc;

	params.ifindex = ctx->ingress_ifindex;
	xlb_fib_addresses(&params, key->family, key->dst, key->src); /* from the VIP to the client */
	rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return XLB_CTR_DROP_TUN_ICMP_NO_NEIGH;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return XLB_CTR_DROP_TUN_ICMP_NO_ROUTE;
	__builtin_memcpy(macs, params.dmac, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, params.smac, ETH_ALEN);
	*ifindex = params.ifindex;
	return XLB_CONTINUE;
}

/* One's complement a - b, on unfolded sums. */
static __always_inline __u64 xlb_csum_sub(__u64 a, __u64 b)
{
	return a + (__u16)~xlb_csum_fold(b);
}

/* The answer: routed, rate-limited with the balancer's own too-big errors, then the frame cut
 * to the client's quoted packet with the answer's headers in front. */
static __attribute__((noinline)) int xlb_relay_send(struct xdp_md *ctx, struct xlb_relay *r)
{
	void *data, *data_end;
	struct ethhdr *eth;
	__u8 macs[2 * ETH_ALEN] __attribute__((aligned(8)));
	__u32 ifindex = 0, len, v6 = r->key.family == XLB_FAMILY_V6;
	__u32 ip_len = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 icmp_len = sizeof(struct xlb_icmphdr) + r->quote_len;
	struct xlb_icmphdr head = { .type = r->type, .code = r->code, .rest = r->rest };
	__u64 sum;
	int action;

	action = xlb_relay_route(ctx, &r->key, macs, &ifindex);
	if (action != XLB_CONTINUE)
		return xlb_drop(action);
	if (!xlb_too_big_allowed())
		return xlb_drop(XLB_CTR_DROP_TUN_ICMP_LIMITED);
	len = sizeof(struct ethhdr) + ip_len + icmp_len;
	if (bpf_xdp_adjust_head(ctx, (int)r->cut) ||
	    bpf_xdp_adjust_tail(ctx, (int)len - (int)xlb_frame_len(ctx)))
		return xlb_malformed();
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	/* The new headers' sum, the checksum field zero; the quote's is the router's, less what
	 * went (r->removed). */
	sum = xlb_sum32(*(__u32 *)&head) + xlb_sum32(head.rest);
	if (v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct icmp6hdr *icmp = (void *)(ip6 + 1);

		if ((void *)(icmp + 1) > data_end)
			return xlb_malformed();
		xlb_rewrite(eth, macs);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(icmp_len);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = XLB_ICMP_TTL;
		xlb_copy_v6((__u32 *)&ip6->saddr, (const void *)r->key.dst);
		xlb_copy_v6((__u32 *)&ip6->daddr, (const void *)r->key.src);
		sum += (__u64)bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 2 * sizeof(struct in6_addr), 0);
		sum += xlb_sum32(bpf_htonl(icmp_len)) + xlb_sum32(bpf_htonl(IPPROTO_ICMPV6));
		*(struct xlb_icmphdr *)icmp = head;
		icmp->icmp6_cksum = ~xlb_csum_fold(xlb_csum_sub(sum, r->removed));
	} else {
		struct iphdr *ip = (void *)(eth + 1);
		struct xlb_icmphdr *icmp = (void *)(ip + 1);

		if ((void *)(icmp + 1) > data_end)
			return xlb_malformed();
		xlb_rewrite(eth, macs);
		eth->h_proto = bpf_htons(ETH_P_IP);
		*(__u8 *)ip = 0x45;
		ip->tos = 0xc0; /* internetwork control, as the kernel's own ICMP errors */
		ip->tot_len = bpf_htons(ip_len + icmp_len);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = XLB_ICMP_TTL;
		ip->protocol = IPPROTO_ICMP;
		ip->check = 0;
		ip->saddr = r->key.dst[0];
		ip->daddr = r->key.src[0];
		*icmp = head;
		icmp->checksum = ~xlb_csum_fold(xlb_csum_sub(sum, r->removed));
		sum = bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0);
		ip->check = ~xlb_csum_fold(sum);
	}
	/* Counted as the too-big answers are: by what it is, not by the way it leaves. */
	action = ifindex == ctx->ingress_ifindex ? XDP_TX : bpf_redirect_map(&tx_ports, ifindex, 0);
	return xlb_verdict(action, XLB_CTR_TUN_ICMP_RELAYED);
}

/* The quoted tunnel headers at `outer`: the outer family's header, then for UDP the GUE header.
 * Fills gue (0 or 1), the GUE port and the inner family; XLB_CONTINUE, or XLB_CTR_PASS when the
 * quote is no tunnel packet of any kind the balancer sends (the error is the kernel's). */
static __always_inline int xlb_relay_outer(void *outer, void *data_end, __u32 outer_v6, __u32 *gue,
					   __u16 *gue_port, __u32 *inner_v6)
{
	__u32 hlen = outer_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	struct udphdr *udp = outer + hlen;
	struct xlb_guehdr *guehdr = (void *)(udp + 1);
	__u8 proto;

	if (outer + hlen > data_end)
		return XLB_CTR_PASS;
	if (outer_v6) {
		struct ipv6hdr *ip6 = outer;

		if (ip6->version != 6)
			return XLB_CTR_PASS;
		proto = ip6->nexthdr;
	} else {
		struct iphdr *ip = outer;

		/* The balancer's outer IPv4 headers have no options. */
		if (*(__u8 *)ip != 0x45)
			return XLB_CTR_PASS;
		proto = ip->protocol;
	}
	*gue = 0;
	if (proto == IPPROTO_UDP) {
		/* GUE version 0 without optional fields, as xlb_encapsulate writes it. */
		if ((void *)(guehdr + 1) > data_end || guehdr->hlen_flags != 0)
			return XLB_CTR_PASS;
		*gue = 1;
		*gue_port = udp->dest;
		proto = guehdr->proto;
	}
	if (proto == IPPROTO_IPIP)
		*inner_v6 = 0;
	else if (proto == IPPROTO_IPV6 && outer_v6) /* IPv6 in IPv4 is not done */
		*inner_v6 = 1;
	else
		return XLB_CTR_PASS;
	return XLB_CONTINUE;
}

/* The sum of `size` bytes at p (a constant: the helper wants one), or -1 past the frame. */
static __always_inline __s64 xlb_sum_bytes(void *p, void *data_end, const __u32 size)
{
	if (p + size > data_end)
		return -1;
	return bpf_csum_diff(0, 0, p, size, 0);
}

/* The sum of the ICMP header and the quoted tunnel headers after it (8 + hlen bytes). */
static __always_inline __s64 xlb_relay_cut_sum(void *icmp, void *data_end, __u32 outer_v6, __u32 gue)
{
	if (outer_v6 && gue)
		return xlb_sum_bytes(icmp, data_end, 8 + sizeof(struct ipv6hdr) + XLB_GUE_LEN);
	if (outer_v6)
		return xlb_sum_bytes(icmp, data_end, 8 + sizeof(struct ipv6hdr));
	if (gue)
		return xlb_sum_bytes(icmp, data_end, 8 + sizeof(struct iphdr) + XLB_GUE_LEN);
	return xlb_sum_bytes(icmp, data_end, 8 + sizeof(struct iphdr));
}

/* An ICMP error (its IP header error_hlen bytes, no options or extension headers) about the
 * quoted packet after its ICMP header. */
static __always_inline int xlb_icmp_relay(struct xdp_md *ctx, __u32 outer_v6, __u32 error_hlen)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xlb_icmphdr *icmp = data + sizeof(struct ethhdr) + error_hlen;
	void *outer = icmp + 1, *inner;
	struct xlb_relay r __attribute__((aligned(8))) = {};
	__u32 gue = 0, inner_v6 = 0, hlen, error_len; /* error_len: the ICMP message's */
	int counter;
	__s64 cut_sum;
	__u16 gue_port = 0;
	__u8 type, code;

	if ((void *)(icmp + 1) > data_end)
		return xlb_pass();
	type = icmp->type;
	code = icmp->code;
	if (outer_v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return xlb_pass();
		if (type != ICMPV6_DEST_UNREACH && type != ICMPV6_PKT_TOOBIG && type != ICMPV6_TIME_EXCEED)
			return xlb_pass();
		error_len = xlb_bounded_len(ip6->payload_len);
	} else {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if ((void *)(ip + 1) > data_end)
			return xlb_pass();
		if (type != XLB_ICMP_DEST_UNREACH && type != XLB_ICMP_TIME_EXCEEDED)
			return xlb_pass();
		error_len = xlb_bounded_len(ip->tot_len) - sizeof(*ip);
		if (error_len > 0xffff)
			return xlb_pass(); /* shorter than its header: the kernel drops it */
	}
	if (xlb_relay_outer(outer, data_end, outer_v6, &gue, &gue_port, &inner_v6) != XLB_CONTINUE)
		return xlb_pass();
	/* From here the error is about a tunnel packet, the balancer's or not. */
	if ((void *)icmp + error_len > data_end)
		return xlb_relay_pass(XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE);
	hlen = xlb_tunnel_overhead(outer_v6, gue);
	inner = outer + hlen;
	counter = xlb_relay_inner(inner, data_end, (__s32)error_len - (__s32)(sizeof(*icmp) + hlen), inner_v6, &r);
	if (counter != XLB_CONTINUE)
		return xlb_relay_pass(counter);
	if (outer_v6) {
		struct ipv6hdr *q = outer;

		if ((void *)(q + 1) > data_end)
			return xlb_malformed();
		if (!xlb_relay_ours(&r.key, (const __u32 *)&q->saddr, (const __u32 *)&q->daddr, 1, gue, gue_port))
			return xlb_relay_pass(XLB_CTR_PASS_TUN_ICMP_UNKNOWN);
	} else {
		struct iphdr *q = outer;

		if ((void *)(q + 1) > data_end)
			return xlb_malformed();
		if (!xlb_relay_ours(&r.key, &q->saddr, &q->daddr, 0, gue, gue_port))
			return xlb_relay_pass(XLB_CTR_PASS_TUN_ICMP_UNKNOWN);
	}
	/* The second word is unused (zero) but for an MTU; an RFC 4884 length there would count
	 * the tunnel's headers, which go. */
	if (outer_v6 && !inner_v6) {
		xlb_relay_v6_to_v4_type(&r, type, code);
	} else {
		r.type = type;
		r.code = code;
	}
	if (r.type == (inner_v6 ? ICMPV6_PKT_TOOBIG : XLB_ICMP_DEST_UNREACH) &&
	    (inner_v6 || r.code == XLB_ICMP_FRAG_NEEDED)) {
		__u32 reported = outer_v6 ? bpf_ntohl(icmp->rest) : bpf_ntohl(icmp->rest) & 0xffff;

		counter = xlb_relay_mtu(&r, inner, data_end, reported, hlen);
		if (counter == XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE)
			return xlb_relay_pass(counter);
		if (counter != XLB_CONTINUE)
			return xlb_drop(counter);
	}
	/* What goes from under the checksum: the ICMP header and the tunnel's headers, and for
	 * ICMPv6 its pseudo-header (addresses, length, next header). */
	cut_sum = xlb_relay_cut_sum(icmp, data_end, outer_v6, gue);
	if (cut_sum < 0)
		return xlb_malformed(); /* cannot be: the client's packet follows */
	r.removed = (__u64)cut_sum;
	if (outer_v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return xlb_malformed();
		r.removed += (__u64)bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 2 * sizeof(struct in6_addr), 0) +
			     xlb_sum32(bpf_htonl(error_len)) + xlb_sum32(bpf_htonl(IPPROTO_ICMPV6));
	}
	r.quote_len = error_len - sizeof(*icmp) - hlen;
	/* The error's IP and ICMP headers and the tunnel's go; the answer's IP and ICMP take
	 * their place in front of the client's packet. */
	r.cut = error_hlen + hlen - (inner_v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
	return xlb_relay_send(ctx, &r);
}

/* Out of line: errors are rare, and non-VIP traffic that is not ICMP never calls these. One copy
 * per family: a shared one, with the family a variable, took the verifier 20% more states. */
static __attribute__((noinline)) int xlb_icmp_relay_v4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if ((void *)(ip + 1) > data_end)
		return xlb_pass();
	/* Routers send errors without options, in one piece. */
	if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET)))
		return xlb_pass();
	return xlb_icmp_relay(ctx, 0, sizeof(struct iphdr));
}

static __attribute__((noinline)) int xlb_icmp_relay_v6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
		return xlb_pass();
	return xlb_icmp_relay(ctx, 1, sizeof(struct ipv6hdr));
}

#endif
