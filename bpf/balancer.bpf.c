// SPDX-License-Identifier: GPL-2.0
/* xlb: layer-4 load balancing in direct-routing mode. The entry point only strings the
 * steps together; each step lives in its own header. */
#include "fast_path.h"

char LICENSE[] SEC("license") = "GPL";

/* A packet of a flow found in the per-CPU cache by the general parser. */
static __always_inline int xlb_established_cached(struct xdp_md *ctx, void *data, void *data_end,
						  const struct xlb_packet *pkt, struct xlb_flow_cache_entry *entry)
{
	if (xlb_group_dst(data))
		return xlb_drop(XLB_CTR_DROP_BAD_DST_MAC);
	if (xlb_foreign_dst(ctx, data))
		return xlb_verdict(XDP_PASS, XLB_CTR_PASS_FOREIGN_MAC);
	if (pkt->first_fragment)
		return xlb_drop(XLB_CTR_DROP_FRAGMENT);
	if (pkt->icmp_error)
		xlb_count(XLB_CTR_ICMP_FORWARDED);
	return xlb_forward_cached(ctx, data, data_end, entry);
}

/* Every packet the fast path leaves to it: parsed in full, then the flow cache, then the
 * connection table. */
static __always_inline int xlb_general_path(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xlb_packet pkt __attribute__((aligned(8))) = {};
	struct xlb_flow_cache_entry *cached;
	int action;

	action = xlb_parse(data, data_end, &pkt);
	if (action == XLB_TUNNEL_ERROR)
		return pkt.key.family == XLB_FAMILY_V4 ? xlb_icmp_relay_v4(ctx) : xlb_icmp_relay_v6(ctx);
	if (action != XLB_CONTINUE)
		return action;
	cached = xlb_flow_cache_slot_of(&pkt.key);
	if (cached && xlb_flow_key_equal(&cached->key, &pkt.key) &&
	    xlb_flow_cache_current(cached, bpf_jiffies64()) && /* inlined: a load, not a helper call */
	    !xlb_tcp_needs_table(xlb_flags_proto(&pkt), pkt.tcp_flags))
		return xlb_established_cached(ctx, data, data_end, &pkt, cached);
	return xlb_table_path(ctx, data, data_end, &pkt, cached);
}

SEC("xdp")
int xlb_balancer(struct xdp_md *ctx)
{
	int action = xlb_fast_path(ctx);

	if (action == XLB_CONTINUE)
		action = xlb_general_path(ctx);
	return xlb_capture_exit(ctx, action);
}
