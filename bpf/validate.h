/* SPDX-License-Identifier: GPL-2.0 */
/* What a frame to a VIP must be before it may cost a connection-table entry or reach a real:
 * lengths that agree with each other, a unicast destination, a source that can be a client,
 * and TCP flags some connection could send. Each check names the counter that a frame failing
 * it is dropped with (0: it passes). A real would drop most such frames itself, but by then
 * they have been scheduled, and without these checks each one made a flow. */
#ifndef XLB_BPF_VALIDATE_H
#define XLB_BPF_VALIDATE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "filter.h"

/* The TCP flags a flow's client state follows (byte 13 of the header). */
#define XLB_TCP_FIN 0x01
#define XLB_TCP_SYN 0x02
#define XLB_TCP_RST 0x04
#define XLB_TCP_ACK 0x10
/* Flags that may change what a packet means for its flow. */
#define XLB_TCP_CONTROL (XLB_TCP_FIN | XLB_TCP_SYN | XLB_TCP_RST)

/* A TCP or UDP header at l4 against the l4_len bytes the IP header leaves it. The caller has
 * checked that the frame holds the fixed header (20 bytes for TCP, 8 for UDP); Ethernet
 * padding may follow the datagram, so the frame's end says nothing about these lengths. */
static __always_inline __u32 xlb_l4_problem(__u8 proto, const void *l4, __u32 l4_len)
{
	__u32 len;

	if (proto == IPPROTO_TCP) {
		if (l4_len < sizeof(struct tcphdr))
			return XLB_CTR_DROP_BAD_LENGTH;
		len = (((const __u8 *)l4)[12] >> 4) * 4; /* data offset */
		if (len < sizeof(struct tcphdr) || len > l4_len)
			return XLB_CTR_DROP_BAD_L4_HEADER;
	} else if (proto == IPPROTO_UDP) {
		if (l4_len < sizeof(struct udphdr))
			return XLB_CTR_DROP_BAD_LENGTH;
		/* Shorter than the IP payload is legal: the rest is not the datagram's. */
		len = bpf_ntohs(((const struct udphdr *)l4)->len);
		if (len < sizeof(struct udphdr) || len > l4_len)
			return XLB_CTR_DROP_BAD_L4_HEADER;
	}
	return 0;
}

/* Broadcast and multicast frames were sent to every host on the segment, not to this node. */
static __always_inline int xlb_group_dst(const void *eth)
{
	return *(const __u8 *)eth & 1;
}

/* A unicast frame for another host's MAC, seen because a switch flooded it or the NIC is
 * promiscuous: that host (or nobody) forwards it, not this node. An interface past the map or
 * not filled by xlbd compares nothing. Array lookups are inlined: no helper call. */
static __always_inline int xlb_foreign_dst(const struct xdp_md *ctx, const void *eth)
{
	__u32 ifindex = ctx->ingress_ifindex;
	const struct xlb_if_mac *own = bpf_map_lookup_elem(&if_macs, &ifindex);

	if (!own || !own->enabled)
		return 0;
	return *(const __u32 *)eth != *(const __u32 *)own->mac ||
	       *(const __u16 *)(eth + 4) != *(const __u16 *)(own->mac + 4);
}

/* Flags no TCP stack sends on a connection: no ACK, SYN or RST at all (NULL, FIN or Xmas
 * scans: after the handshake every segment carries ACK), or SYN with FIN or RST. */
static __always_inline int xlb_tcp_flags_invalid(__u8 flags)
{
	if (flags & XLB_TCP_SYN)
		return flags & (XLB_TCP_FIN | XLB_TCP_RST);
	return !(flags & (XLB_TCP_ACK | XLB_TCP_RST));
}

/* What any frame of a VIP's flow must pass, established or not. proto: the transport whose
 * flags tcp_flags are (0 for an ICMP error, which quotes no flags). */
static __always_inline __u32 xlb_frame_problem(const void *eth, __u8 proto, __u8 tcp_flags)
{
	if (xlb_group_dst(eth))
		return XLB_CTR_DROP_BAD_DST_MAC;
	if (proto == IPPROTO_TCP && xlb_tcp_flags_invalid(tcp_flags))
		return XLB_CTR_DROP_BAD_TCP_FLAGS;
	return 0;
}

/* Whether a TCP packet of a known flow must meet the connection table rather than the flow
 * cache: SYN, FIN and RST change the flow's client state, and a segment without ACK is none
 * a connection sends (the table drops it). One mask and compare, as the SYN/FIN/RST test alone. */
static __always_inline int xlb_tcp_needs_table(__u8 proto, __u8 tcp_flags)
{
	return proto == IPPROTO_TCP && (tcp_flags & (XLB_TCP_CONTROL | XLB_TCP_ACK)) != XLB_TCP_ACK;
}

/* A source no client has: this network (0/8), loopback, multicast, reserved and broadcast
 * (224/3); for IPv6 the unspecified and loopback addresses and multicast; and the VIP itself
 * (a reply to it would go to the VIP). Checked only before a new flow: one that exists passed. */
static __always_inline int xlb_martian_source(const struct xlb_flow_key *key)
{
	__u8 first = *(const __u8 *)key->src;

	if (key->family == XLB_FAMILY_V4)
		return first == 0 || first == 127 || first >= 224 || key->src[0] == key->dst[0];
	if (first == 0xff)
		return 1;
	if (!(key->src[0] | key->src[1] | key->src[2]) && (key->src[3] == 0 || key->src[3] == bpf_htonl(1)))
		return 1;
	return !((key->src[0] ^ key->dst[0]) | (key->src[1] ^ key->dst[1]) | (key->src[2] ^ key->dst[2]) |
		 (key->src[3] ^ key->dst[3]));
}

#endif
