/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU counters: global per action / drop reason, per VIP and per real. */
#ifndef XLB_BPF_STATS_H
#define XLB_BPF_STATS_H

#include "capture.h"

static __always_inline void xlb_count_n(__u32 counter, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &counter);

	if (value)
		*value += n;
}

static __always_inline void xlb_count(__u32 counter)
{
	xlb_count_n(counter, 1);
}

/* Counts and returns the action, so that exits read `return xlb_verdict(...)`. */
static __always_inline int xlb_verdict(int action, __u32 counter)
{
	xlb_count(counter);
	if (counter != XLB_CTR_PASS) /* a constant: no note for plain "not a VIP" traffic */
		xlb_capture_note_reason(counter);
	return action;
}

/* Drops are rare: one out-of-line copy keeps their counting off the cache lines (and the
 * instruction cache) of the forwarding path, which would otherwise jump over an inlined copy
 * at every check. */
static __attribute__((noinline)) int xlb_drop(__u32 counter)
{
	xlb_count(counter);
	xlb_capture_note_reason(counter);
	return XDP_DROP;
}

static __always_inline void xlb_traffic(void *map, __u32 index, __u32 packets, __u64 bytes, __u32 new_flow)
{
	struct xlb_traffic_stats *stats = bpf_map_lookup_elem(map, &index);

	if (stats) {
		stats->packets += packets;
		stats->bytes += bytes;
		stats->new_flows += new_flow;
	}
}

/* The way a packet to a real behind ifindex leaves, as the counter that counts it. */
static __always_inline __u32 xlb_way_out(const struct xdp_md *ctx, __u32 ifindex)
{
	return ifindex == ctx->ingress_ifindex ? XLB_CTR_TX : XLB_CTR_REDIRECT;
}

#endif
