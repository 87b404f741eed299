/* SPDX-License-Identifier: GPL-2.0 */
/* Sending a packet on to its real: the Ethernet rewrite, the way out, and the counting. */
#ifndef XLB_BPF_FORWARD_H
#define XLB_BPF_FORWARD_H

#include "encap.h"

/* The Ethernet addresses a real is sent with: dst_mac then src_mac, as a frame starts, at an
 * 8-byte aligned offset of their map value; so the rewrite is two loads and two stores. */
#define XLB_MACS_AT(type) \
	_Static_assert(__builtin_offsetof(type, src_mac) == __builtin_offsetof(type, dst_mac) + ETH_ALEN && \
			       __builtin_offsetof(type, dst_mac) % 8 == 0, \
		       #type ": dst_mac, src_mac are one 8-byte aligned run")
XLB_MACS_AT(struct xlb_real);
XLB_MACS_AT(struct xlb_flow_cache_entry);

static __always_inline int xlb_send(__u32 ifindex, __u32 way_out)
{
	if (way_out == XLB_CTR_TX)
		return XDP_TX;
	return bpf_redirect_map(&tx_ports, ifindex, 0);
}

/* The frame's length, computed at once: clang would otherwise keep the packet pointers, 32-bit
 * loads from the context, across helper calls and spill them as 32-bit values, which the
 * verifier refuses. */
static __always_inline __u32 xlb_frame_len(const struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;

	asm volatile("" : "+r"(len));
	return len;
}

/* The next hop for a tunnel real: this CPU's copy of the FIB's last answer while it is current
 * (see struct xlb_tunnel_hop), else the FIB's, kept. */
static __always_inline int xlb_tunnel_hop_cached(struct xdp_md *ctx, __u32 real_id, const struct xlb_tunnel *tun,
						 struct xlb_hop *hop)
{
	struct xlb_tunnel_hop *known = bpf_map_lookup_elem(&tunnel_hops, &real_id);
	__u32 now = (__u32)bpf_jiffies64(); /* inlined: a load, not a helper call */
	__u32 epoch = vip_filter.cache_epoch;
	int action;

	if (known && known->ifindex && now - known->filled < XLB_FLOW_CACHE_TTL_JIFFIES && known->cache_epoch == epoch) {
		__builtin_memcpy(hop->macs, known->dst_mac, sizeof(hop->macs));
		hop->ifindex = known->ifindex;
		hop->mtu = known->mtu;
		return XLB_CONTINUE;
	}
	action = xlb_tunnel_hop(ctx, tun, hop);
	if (action == XLB_CONTINUE && known) {
		__builtin_memcpy(known->dst_mac, hop->macs, sizeof(hop->macs));
		known->ifindex = hop->ifindex;
		known->mtu = hop->mtu;
		known->filled = now;
		known->cache_epoch = epoch;
	}
	return action;
}

/* What the table path hands the tunnel's way: more than a call takes in registers. */
struct xlb_tunnel_flow {
	__u32 real_id;
	__u32 vip_id;
	__u32 new_flow;
	__u32 hash; /* xlb_flow_key_hash() */
};

/* lb_kind TUN from the connection table: the next hop from the FIB, then the encapsulation.
 * `filled`: the flow's cache entry, just filled with the real (whose MACs a tunnel real does
 * not have), which gets the hop and the hash; it lapses when there is no hop. Out of line: the
 * table's hash lookups dwarf the call, and the table path would otherwise carry it twice. */
static __attribute__((noinline)) int xlb_forward_tunnel(struct xdp_md *ctx, const struct xlb_tunnel_flow *flow,
							struct xlb_flow_cache_entry *filled)
{
	__u32 bytes = xlb_frame_len(ctx);
	__u32 real_id = flow->real_id, vip_id = flow->vip_id, new_flow = flow->new_flow;
	struct xlb_tunnel *tun = bpf_map_lookup_elem(&tunnels, &real_id);
	struct xlb_hop hop;
	__u32 way_out;
	int action;

	if (filled)
		filled->filled -= XLB_FLOW_CACHE_TTL_JIFFIES; /* until the hop is known */
	if (!tun || !tun->type)
		return xlb_drop(XLB_CTR_DROP_TUN_NO_ROUTE);
	action = xlb_tunnel_hop_cached(ctx, real_id, tun, &hop);
	if (action != XLB_CONTINUE)
		return action;
	hop.hash = flow->hash;
	if (filled) {
		__builtin_memcpy(filled->dst_mac, hop.macs, sizeof(hop.macs));
		filled->ifindex = hop.ifindex;
		filled->tunnel_mtu = hop.mtu;
		filled->tunnel_hash = hop.hash;
		filled->filled += XLB_FLOW_CACHE_TTL_JIFFIES;
	}
	action = xlb_encapsulate(ctx, tun, &hop);
	if (action == XLB_TOO_BIG)
		return xlb_too_big(ctx, hop.mtu);
	if (action != XLB_ENCAPSULATED)
		return action;
	xlb_traffic(&vip_stats, vip_id, 1, bytes, new_flow);
	xlb_traffic(&real_stats, real_id, 1, bytes, new_flow);
	way_out = xlb_way_out(ctx, hop.ifindex);
	/* Recorded as it leaves: the encapsulation has written the outer headers and MACs. */
	xlb_capture_forward(ctx, 0, hop.ifindex, vip_id, real_id, way_out, XLB_CAPTURE_PATH_CONNECTION);
	xlb_count(way_out);
	return xlb_send(hop.ifindex, way_out);
}

/* Forwards a parsed frame (data .. data_end, at least an Ethernet header) of the flow `key` to
 * a real. `filled`: the flow's cache entry when it was just filled, else NULL. */
static __always_inline int xlb_forward(struct xdp_md *ctx, struct ethhdr *data, void *data_end,
				       const struct xlb_flow_key *key, const struct xlb_real *real, __u32 real_id,
				       __u32 vip_id, __u32 new_flow, struct xlb_flow_cache_entry *filled)
{
	__u32 bytes = data_end - (void *)data;
	__u32 way_out = xlb_way_out(ctx, real->ifindex);

	if (real->flags & XLB_REAL_F_TUNNEL) {
		struct xlb_tunnel_flow flow = {
			.real_id = real_id, .vip_id = vip_id, .new_flow = new_flow, .hash = xlb_flow_key_hash(key),
		};

		return xlb_forward_tunnel(ctx, &flow, filled);
	}

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

/* A cached flow to a tunnel real: the hop the FIB gave when the entry was filled, the tunnel
 * from its array. Out of line: three ways into the cache share one copy. */
static __attribute__((noinline)) int xlb_forward_cached_tunnel(struct xdp_md *ctx,
							       struct xlb_flow_cache_entry *entry)
{
	__u64 bytes = xlb_frame_len(ctx);
	__u32 real_id = entry->real_id;
	struct xlb_tunnel *tun = bpf_map_lookup_elem(&tunnels, &real_id);
	struct xlb_hop hop;
	__u32 way_out;
	int action;

	if (!tun || !tun->type)
		return xlb_drop(XLB_CTR_DROP_TUN_NO_ROUTE);
	__builtin_memcpy(hop.macs, entry->dst_mac, sizeof(hop.macs));
	hop.ifindex = entry->ifindex;
	hop.mtu = entry->tunnel_mtu;
	hop.hash = entry->tunnel_hash;
	action = xlb_encapsulate(ctx, tun, &hop);
	if (action == XLB_TOO_BIG)
		return xlb_too_big(ctx, hop.mtu);
	if (action != XLB_ENCAPSULATED)
		return action;
	way_out = xlb_way_out(ctx, hop.ifindex);
	xlb_capture_forward(ctx, 0, hop.ifindex, entry->vip_id, entry->real_id, way_out,
			    XLB_CAPTURE_PATH_FLOW_CACHE);
	xlb_flow_cache_count(entry, way_out, bytes);
	return xlb_send(hop.ifindex, way_out);
}

/* A parsed frame of a flow in the per-CPU cache (xlb_flow_cache_current said so): forwarded
 * with the addresses copied into the entry and counted there, reading no other map. */
static __always_inline int xlb_forward_cached(struct xdp_md *ctx, struct ethhdr *data, void *data_end,
					      struct xlb_flow_cache_entry *entry)
{
	__u64 bytes = data_end - (void *)data;
	__u32 way_out;

	if (entry->tunnel_mtu)
		return xlb_forward_cached_tunnel(ctx, entry);
	way_out = xlb_way_out(ctx, entry->ifindex);

	xlb_capture_forward(ctx, entry->dst_mac, entry->ifindex, entry->vip_id, entry->real_id, way_out,
			    XLB_CAPTURE_PATH_FLOW_CACHE);
	xlb_rewrite(data, entry->dst_mac);
	xlb_flow_cache_count(entry, way_out, bytes);
	return xlb_send(entry->ifindex, way_out);
}

#endif
