/* SPDX-License-Identifier: GPL-2.0 */
/* Sending a packet on to its real: the Ethernet rewrite, the way out, and the counting. */
#ifndef XLB_BPF_FORWARD_H
#define XLB_BPF_FORWARD_H

#include "flow_cache.h"

/* The Ethernet addresses a real is sent with: dst_mac then src_mac, as a frame starts, at an
 * 8-byte aligned offset of their map value; so the rewrite is two loads and two stores. */
#define XLB_MACS_AT(type) \
	_Static_assert(__builtin_offsetof(type, src_mac) == __builtin_offsetof(type, dst_mac) + ETH_ALEN && \
			       __builtin_offsetof(type, dst_mac) % 8 == 0, \
		       #type ": dst_mac, src_mac are one 8-byte aligned run")
XLB_MACS_AT(struct xlb_real);
XLB_MACS_AT(struct xlb_flow_cache_entry);

/* DR: the IP packet stays as it is; only the Ethernet addresses change. The caller has checked
 * that the frame holds an Ethernet header. Packet stores need no alignment here (the verifier
 * asks it only of strict-alignment architectures). */
static __always_inline void xlb_rewrite(struct ethhdr *eth, const __u8 *macs)
{
	*(__u64 *)eth = *(const __u64 *)macs;
	*(__u32 *)((void *)eth + 8) = *(const __u32 *)(macs + 8);
}

static __always_inline int xlb_send(__u32 ifindex, __u32 way_out)
{
	if (way_out == XLB_CTR_TX)
		return XDP_TX;
	return bpf_redirect_map(&tx_ports, ifindex, 0);
}

/* Forwards a parsed frame (data .. data_end, at least an Ethernet header) to a real. */
static __always_inline int xlb_forward(struct xdp_md *ctx, struct ethhdr *data, void *data_end,
				       const struct xlb_real *real, __u32 real_id, __u32 vip_id, __u32 new_flow)
{
	__u32 bytes = data_end - (void *)data;
	__u32 way_out = xlb_way_out(ctx, real->ifindex);

	xlb_traffic(&vip_stats, vip_id, 1, bytes, new_flow);
	xlb_traffic(&real_stats, real_id, 1, bytes, new_flow);
	/* A local real is this node's own stack, where the VIP is an address of the master. */
	if (real->flags & XLB_REAL_F_LOCAL) {
		xlb_capture_note_local(vip_id, real_id);
		return xlb_verdict(XDP_PASS, XLB_CTR_LOCAL);
	}
	xlb_capture_forward(ctx, real->dst_mac, real->ifindex, vip_id, real_id, way_out, XLB_CAPTURE_PATH_CONNECTION);
	xlb_rewrite(data, real->dst_mac);
	xlb_count(way_out);
	return xlb_send(real->ifindex, way_out);
}

/* A parsed frame of a flow in the per-CPU cache (xlb_flow_cache_current said so): forwarded
 * with the addresses copied into the entry and counted there, reading no other map. */
static __always_inline int xlb_forward_cached(struct xdp_md *ctx, struct ethhdr *data, void *data_end,
					      struct xlb_flow_cache_entry *entry)
{
	__u64 bytes = data_end - (void *)data;
	__u32 way_out = xlb_way_out(ctx, entry->ifindex);

	xlb_capture_forward(ctx, entry->dst_mac, entry->ifindex, entry->vip_id, entry->real_id, way_out,
			    XLB_CAPTURE_PATH_FLOW_CACHE);
	xlb_rewrite(data, entry->dst_mac);
	xlb_flow_cache_count(entry, way_out, bytes);
	return xlb_send(entry->ifindex, way_out);
}

#endif
