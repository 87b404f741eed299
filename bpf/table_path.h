/* SPDX-License-Identifier: GPL-2.0 */
/* The connection table's part: a parsed packet that the flow cache did not serve. A flow the
 * table knows is forwarded (and copied into the cache), a new one is placed by the VIP's
 * scheduler. */
#ifndef XLB_BPF_TABLE_PATH_H
#define XLB_BPF_TABLE_PATH_H

#include "forward.h"

static __always_inline struct xlb_vip_info *xlb_find_vip(const struct xlb_flow_key *key)
{
	struct xlb_vip_key vkey = {};
	struct xlb_vip_info *vip;

	__builtin_memcpy(vkey.addr, key->dst, sizeof(vkey.addr));
	vkey.port = key->dport;
	vkey.proto = key->proto;
	vkey.family = key->family;
	vip = bpf_map_lookup_elem(&vips, &vkey);
	if (vip)
		return vip;
	vkey.port = 0; /* all-ports service */
	return bpf_map_lookup_elem(&vips, &vkey);
}

static __always_inline struct xlb_real *xlb_find_real(__u32 real_id)
{
	struct xlb_real *real = bpf_map_lookup_elem(&reals, &real_id);

	return real && real->family ? real : NULL;
}

/* A packet of a flow the connection table knows. */
static __always_inline int xlb_established(struct xdp_md *ctx, void *data, void *data_end,
					   const struct xlb_packet *pkt, const struct xlb_real *real, __u32 real_id,
					   __u32 vip_id, struct xlb_flow_cache_entry *filled)
{
	if (pkt->first_fragment)
		return xlb_drop(XLB_CTR_DROP_FRAGMENT);
	if (!real)
		return xlb_drop(XLB_CTR_DROP_REAL_MISSING);
	if (pkt->icmp_error)
		xlb_count(XLB_CTR_ICMP_FORWARDED);
	return xlb_forward(ctx, data, data_end, &pkt->key, real, real_id, vip_id, 0, filled);
}

/* Out of line: both the general path and the fast path (for a plain TCP or UDP packet the cache
 * did not serve, which it has parsed already) end here, and the table's hash lookups dwarf the
 * call. `cached` is the flow's cache slot, refilled from the table. */
static __attribute__((noinline)) int xlb_table_path(struct xdp_md *ctx, void *data, void *data_end,
						     const struct xlb_packet *pkt,
						     struct xlb_flow_cache_entry *cached)
{
	struct xlb_flow_cache_entry *filled = 0;
	struct xlb_vip_state *state;
	struct xlb_vip_info *vip;
	struct xlb_flow *flow;
	struct xlb_real *real;
	__u32 epoch = xlb_cache_epoch();
	__u32 real_id = 0, vip_id = 0, reopened = 0, opening;
	__u32 problem = xlb_frame_problem(data, xlb_flags_proto(pkt), pkt->tcp_flags);
	__u64 now;

	/* Dropped if it is a VIP's, flow or not (other traffic that passed the prefilter is the
	 * kernel's, whatever it looks like); decided by the small vips table alone, so that a
	 * flood of such frames never walks the connection table, nor changes a flow in it. */
	if (problem)
		return xlb_find_vip(&pkt->key) ? xlb_drop(problem) : xlb_pass();
	if (xlb_foreign_dst(ctx, data))
		return xlb_find_vip(&pkt->key) ? xlb_verdict(XDP_PASS, XLB_CTR_PASS_FOREIGN_MAC) : xlb_pass();
	now = bpf_ktime_get_coarse_ns();
	flow = xlb_flow_lookup(&pkt->key, now);
	/* tcp_flags is 0 for anything but TCP, which never reopens. */
	if (flow && xlb_flow_reopened(flow, pkt->tcp_flags, now)) {
		/* The old connection's entry is overwritten below; a cached copy must not outlive it. */
		if (cached && xlb_flow_key_equal(&cached->key, &pkt->key))
			cached->filled -= XLB_FLOW_CACHE_TTL_JIFFIES;
		reopened = 1;
		flow = NULL;
	}
	if (flow) {
		real_id = flow->real_id;
		vip_id = flow->vip_id;
		xlb_flow_touch(flow, now, pkt->key.proto, pkt->tcp_flags);
		/* An established flow skips the vips hash lookup: its entry names the VIP, whose
		 * state is one array read away. It is forwarded even while this node is not the
		 * VIP's master: a packet that still reaches us (a restarted xlbd before VRRP
		 * decides, ARP caches not yet moved) would otherwise meet the local kernel, which
		 * may hold the VIP and answer with a reset. A VIP without state is gone (or the
		 * maps come from an older xlbd): decide as for a packet without a flow. */
		state = bpf_map_lookup_elem(&vip_state, &vip_id);
		if (state && state->flags) {
			real = xlb_find_real(real_id);
			/* Control packets (SYN, FIN, RST) skip the cache, so that the ones that change the
			 * client state always reach this table, and so do segments without ACK, which
			 * it drops; local reals are passed, not rewritten. */
			if (cached && real && !xlb_tcp_needs_table(xlb_flags_proto(pkt), pkt->tcp_flags) &&
			    !(real->flags & XLB_REAL_F_LOCAL)) {
				xlb_flow_cache_fill(cached, &pkt->key, real_id, real, vip_id, state->incarnation, epoch,
						    bpf_jiffies64());
				filled = cached;
			}
			return xlb_established(ctx, data, data_end, pkt, real, real_id, vip_id, filled);
		}
	}
	vip = xlb_find_vip(&pkt->key);
	if (!vip)
		return xlb_pass();
	if (pkt->first_fragment)
		return xlb_drop(XLB_CTR_DROP_FRAGMENT);
	if (real_id) /* a flow whose VIP has no vip_state entry (maps adopted from an older xlbd) */
		return xlb_established(ctx, data, data_end, pkt, xlb_find_real(real_id), real_id,
				       vip->vip_id, 0);
	/* Only errors about flows we placed are ours; the rest are the kernel's. */
	if (pkt->icmp_error)
		return xlb_pass();
	/* New flows are the master's to place. */
	if (!(vip->flags & XLB_VIP_F_ACTIVE))
		return xlb_verdict(XDP_PASS, XLB_CTR_PASS_INACTIVE);
	if (xlb_martian_source(&pkt->key))
		return xlb_drop(XLB_CTR_DROP_MARTIAN_SOURCE);
	/* Only a SYN opens a TCP connection. Any other TCP packet without a flow belongs to one
	 * this node never saw open (a failover without flow sync): it goes where the scheduler
	 * says, but leaves no entry, or a flood of lone ACKs would fill the table. SYN+ACK opens
	 * nothing either: clients do not send one. */
	opening = pkt->key.proto != IPPROTO_TCP || (pkt->tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) == XLB_TCP_SYN;
	real_id = xlb_new_flow(vip, &pkt->key, pkt->tcp_flags, now, opening);
	if (!real_id)
		return xlb_drop(XLB_CTR_DROP_NO_REAL);
	if (!opening)
		xlb_count(XLB_CTR_MIDSTREAM_FORWARDED);
	/* Counted only here: a backup passes such a SYN to its kernel and rescheduled nothing. */
	if (reopened) {
		xlb_count(XLB_CTR_FLOW_REOPENED);
		xlb_capture_note_path(XLB_CAPTURE_PATH_NONE, XLB_CAPTURE_F_REOPENED);
	}
	real = xlb_find_real(real_id);
	if (!real)
		return xlb_drop(XLB_CTR_DROP_REAL_MISSING);
	return xlb_forward(ctx, data, data_end, &pkt->key, real, real_id, vip->vip_id, opening, 0);
}

#endif
