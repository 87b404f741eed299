/* SPDX-License-Identifier: GPL-2.0 */
/* Header parsing: Ethernet, IPv4 (with options), IPv6 (with extension headers), TCP, UDP and
 * the inner header of ICMP errors. Every access is bounds-checked against data_end. */
#ifndef XLB_BPF_PARSE_H
#define XLB_BPF_PARSE_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include "validate.h"

/* Helpers return an XDP action, or this to let the caller go on. */
#define XLB_CONTINUE (-1)
/* xlb_parse's "an ICMP error to a VIP address about an IPIP or IPv6-in-IPv6 packet from it":
 * the VIP is the tunnel's source (the address the route to the real prefers); for the relay. */
#define XLB_TUNNEL_ERROR (-4)

#define XLB_IPV6_MAX_EXT_HEADERS 4

/* <linux/icmp.h> drags in libc headers that do not build for -target bpf. */
#define XLB_IP_MF 0x2000
#define XLB_IP_OFFSET 0x1fff
#define XLB_ICMP_DEST_UNREACH 3
#define XLB_ICMP_TIME_EXCEEDED 11
struct xlb_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

struct xlb_packet {
	struct xlb_flow_key key; /* client -> VIP, also for ICMP errors (from the inner header) */
	__u8 first_fragment;     /* IP fragment with offset 0: has ports, but not the whole datagram */
	__u8 icmp_error;         /* key comes from the quoted header of an ICMP error */
	__u8 tcp_flags;          /* byte 13 of a TCP header (FIN, SYN, RST, ...); 0 otherwise */
};

/* The protocol whose flags tcp_flags holds: none for an ICMP error, which quotes no flags. */
static __always_inline __u8 xlb_flags_proto(const struct xlb_packet *pkt)
{
	return pkt->icmp_error ? 0 : pkt->key.proto;
}

static __always_inline int xlb_malformed(void)
{
	return xlb_drop(XLB_CTR_DROP_MALFORMED);
}

static __always_inline int xlb_pass(void)
{
	return xlb_verdict(XDP_PASS, XLB_CTR_PASS);
}

static __always_inline __u8 xlb_tcp_flags(const struct tcphdr *tcp)
{
	return ((const __u8 *)tcp)[13];
}

/* Reads the ports at l4 into the key; `quoted` reverses them (ICMP errors quote VIP -> client).
 * l4_len: the bytes the IP header leaves from l4 on. */
static __always_inline int xlb_parse_ports(void *l4, void *data_end, __u8 proto,
					   struct xlb_packet *pkt, int quoted, __u32 l4_len)
{
	__u32 problem;

	/* A first fragment's lengths count the whole datagram; it is dropped as a fragment. */
	if (proto == IPPROTO_TCP && !quoted) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return xlb_malformed();
		problem = pkt->first_fragment ? 0 : xlb_l4_problem(proto, l4, l4_len);
		if (problem)
			return xlb_drop(problem);
		pkt->key.sport = tcp->source;
		pkt->key.dport = tcp->dest;
		pkt->tcp_flags = xlb_tcp_flags(tcp);
		return XLB_CONTINUE;
	}
	if (proto == IPPROTO_UDP && !quoted) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return xlb_malformed();
		problem = pkt->first_fragment ? 0 : xlb_l4_problem(proto, l4, l4_len);
		if (problem)
			return xlb_drop(problem);
		pkt->key.sport = udp->source;
		pkt->key.dport = udp->dest;
		return XLB_CONTINUE;
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		/* An ICMP error quotes only 8 bytes of the transport header: ports are enough. */
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return xlb_malformed();
		if (l4_len < sizeof(*ports) * 2)
			return xlb_drop(XLB_CTR_DROP_BAD_LENGTH);
		pkt->key.sport = quoted ? ports[1] : ports[0];
		pkt->key.dport = quoted ? ports[0] : ports[1];
		return XLB_CONTINUE;
	}
	return xlb_pass();
}

/* Eight bytes of the packet in one load. Packet data is 4-byte aligned at best, and clang
 * splits a load it cannot prove aligned into two; the verifier allows unaligned packet loads
 * wherever the CPU does them (every architecture with XDP drivers of note). */
static __always_inline __u64 xlb_load64(const void *p)
{
	return *(const __u64 *)p;
}

/* An IPv6 address folded to one word, the XOR of its four (xlb_flow_cache_slot_folded and
 * xlb_vip_filter_bit fold alike): two loads instead of four. */
static __always_inline __u32 xlb_fold_v6(const struct in6_addr *a)
{
	__u64 x = xlb_load64(a) ^ xlb_load64((const void *)a + 8);

	return (__u32)x ^ (__u32)(x >> 32);
}

static __always_inline void xlb_copy_v6(__u32 *dst, const struct in6_addr *src)
{
	__builtin_memcpy(dst, src->in6_u.u6_addr32, 16);
}

/* ICMP error about a VIP flow: the quoted packet is VIP -> client, and the error is addressed to
 * its source. The key's dst holds the outer destination on entry. */
static __always_inline int xlb_parse_icmp4(void *l4, void *data_end, struct xlb_packet *pkt, __u32 l4_len)
{
	struct xlb_icmphdr *icmp = l4;
	struct iphdr *inner;
	__u32 quoted_len;

	if ((void *)(icmp + 1) > data_end)
		return xlb_malformed();
	if (icmp->type != XLB_ICMP_DEST_UNREACH && icmp->type != XLB_ICMP_TIME_EXCEEDED)
		return xlb_pass();
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return xlb_malformed();
	if (inner->ihl < 5 || inner->version != 4)
		return xlb_malformed();
	quoted_len = sizeof(*icmp) + inner->ihl * 4;
	if (l4_len < quoted_len)
		return xlb_drop(XLB_CTR_DROP_BAD_LENGTH);
	/* Another address (one that shares the VIP's prefilter bit) is not the VIP's to answer
	 * for, whatever flow it quotes. */
	if (inner->saddr != pkt->key.dst[0])
		return xlb_drop(XLB_CTR_DROP_ICMP_NOT_FOR_VIP);
	if (inner->protocol == IPPROTO_IPIP)
		return XLB_TUNNEL_ERROR;
	pkt->icmp_error = 1;
	pkt->key.proto = inner->protocol;
	pkt->key.src[0] = inner->daddr;
	pkt->key.dst[0] = inner->saddr;
	return xlb_parse_ports((void *)inner + inner->ihl * 4, data_end, inner->protocol, pkt, 1,
			       l4_len - quoted_len);
}

static __always_inline int xlb_parse_icmp6(void *l4, void *data_end, struct xlb_packet *pkt, __u32 l4_len)
{
	struct icmp6hdr *icmp = l4;
	struct ipv6hdr *inner;

	if ((void *)(icmp + 1) > data_end)
		return xlb_malformed();
	if (icmp->icmp6_type != ICMPV6_DEST_UNREACH && icmp->icmp6_type != ICMPV6_PKT_TOOBIG &&
	    icmp->icmp6_type != ICMPV6_TIME_EXCEED)
		return xlb_pass();
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return xlb_malformed();
	if (l4_len < sizeof(*icmp) + sizeof(*inner))
		return xlb_drop(XLB_CTR_DROP_BAD_LENGTH);
	if (xlb_load64(&inner->saddr) != xlb_load64(pkt->key.dst) ||
	    xlb_load64((const void *)&inner->saddr + 8) != xlb_load64(&pkt->key.dst[2]))
		return xlb_drop(XLB_CTR_DROP_ICMP_NOT_FOR_VIP); /* see IPv4 */
	if (inner->nexthdr == IPPROTO_IPV6 || inner->nexthdr == IPPROTO_IPIP)
		return XLB_TUNNEL_ERROR;
	pkt->icmp_error = 1;
	pkt->key.proto = inner->nexthdr;
	xlb_copy_v6(pkt->key.src, &inner->daddr);
	xlb_copy_v6(pkt->key.dst, &inner->saddr);
	return xlb_parse_ports(inner + 1, data_end, inner->nexthdr, pkt, 1, l4_len - sizeof(*icmp) - sizeof(*inner));
}

/* A 16-bit length the verifier can bound: kernels before 6.3 forget the range of a byte-swapped
 * value, and refuse to add it to a packet pointer. */
static __always_inline __u32 xlb_bounded_len(__be16 raw)
{
	__u32 len = bpf_ntohs(raw);

	asm volatile("" : "+r"(len));
	return len & 0xffff;
}

static __always_inline int xlb_parse_ipv4(void *data, void *data_end, struct xlb_packet *pkt)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u32 tot_len;
	void *l4;

	if ((void *)(ip + 1) > data_end)
		return xlb_malformed();
	if (!xlb_maybe_vip(ip->daddr))
		return xlb_pass(); /* not ours, whatever else is in it: the kernel's */
	if (ip->version != 4 || ip->ihl < 5)
		return xlb_malformed();
	l4 = (void *)ip + ip->ihl * 4;
	if (l4 > data_end)
		return xlb_malformed();
	/* A frame cut short inside the datagram (frames may be longer: Ethernet padding) must
	 * not reach a real: it would only drop it, and a lax check here lets junk ride a flow. */
	tot_len = xlb_bounded_len(ip->tot_len);
	if (tot_len < ip->ihl * 4u || (void *)ip + tot_len > data_end)
		return xlb_malformed();
	pkt->key.family = XLB_FAMILY_V4;
	pkt->key.src[0] = ip->saddr;
	pkt->key.dst[0] = ip->daddr;
	pkt->key.proto = ip->protocol;
	if (ip->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET)) {
		/* Only the first fragment carries ports. Later ones go to the kernel, which
		 * discards them once reassembly times out: their first fragment never arrives
		 * there, so no datagram is ever split across reals. */
		if (ip->frag_off & bpf_htons(XLB_IP_OFFSET))
			return xlb_pass();
		pkt->first_fragment = 1;
	}
	if (ip->protocol == IPPROTO_ICMP)
		return xlb_parse_icmp4(l4, data_end, pkt, tot_len - ip->ihl * 4);
	return xlb_parse_ports(l4, data_end, ip->protocol, pkt, 0, tot_len - ip->ihl * 4);
}

static __always_inline int xlb_parse_ipv6(void *data, void *data_end, struct xlb_packet *pkt)
{
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	__u32 payload_len, ext_len = 0;
	void *l4;
	__u8 next;

	if ((void *)(ip6 + 1) > data_end)
		return xlb_malformed();
	if (!xlb_maybe_vip(xlb_fold_v6(&ip6->daddr)))
		return xlb_pass();
	if (ip6->version != 6)
		return xlb_malformed();
	payload_len = xlb_bounded_len(ip6->payload_len);
	if ((void *)(ip6 + 1) + payload_len > data_end)
		return xlb_malformed(); /* truncated: see IPv4 */
	pkt->key.family = XLB_FAMILY_V6;
	xlb_copy_v6(pkt->key.src, &ip6->saddr);
	xlb_copy_v6(pkt->key.dst, &ip6->daddr);
	next = ip6->nexthdr;
	l4 = ip6 + 1;

#pragma unroll
	for (int i = 0; i < XLB_IPV6_MAX_EXT_HEADERS; i++) {
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *opt = l4;

			if ((void *)(opt + 1) > data_end)
				return xlb_malformed();
			next = opt->nexthdr;
			l4 += (opt->hdrlen + 1) * 8;
			ext_len += (opt->hdrlen + 1) * 8;
		} else if (next == IPPROTO_FRAGMENT) {
			struct frag_hdr {
				__u8 nexthdr;
				__u8 reserved;
				__be16 frag_off;
				__be32 identification;
			} *frag = l4;

			if ((void *)(frag + 1) > data_end)
				return xlb_malformed();
			if (frag->frag_off & bpf_htons(0xfff8))
				return xlb_pass(); /* not the first fragment: see the IPv4 note */
			pkt->first_fragment = 1;
			next = frag->nexthdr;
			l4 = frag + 1;
			ext_len += sizeof(*frag);
		} else {
			break;
		}
	}
	if (l4 > data_end)
		return xlb_malformed();
	if (ext_len > payload_len)
		return xlb_drop(XLB_CTR_DROP_BAD_EXT_CHAIN);
	pkt->key.proto = next;
	if (next == IPPROTO_ICMPV6)
		return xlb_parse_icmp6(l4, data_end, pkt, payload_len - ext_len);
	return xlb_parse_ports(l4, data_end, next, pkt, 0, payload_len - ext_len);
}

static __always_inline int xlb_parse(void *data, void *data_end, struct xlb_packet *pkt)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return xlb_pass();
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return xlb_parse_ipv4(data, data_end, pkt);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return xlb_parse_ipv6(data, data_end, pkt);
	return xlb_pass();
}

#endif
