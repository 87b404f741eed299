/* SPDX-License-Identifier: GPL-2.0 */
/* Connection table (5-tuple -> real) and persistence templates ((client & mask, VIP) -> real). */
#ifndef XLB_BPF_FLOW_H
#define XLB_BPF_FLOW_H

#include "sched.h"

#define XLB_NS_PER_SEC 1000000000ULL

static __always_inline __u64 xlb_flow_timeout_ns(__u8 proto)
{
	__u32 zero = 0;
	struct xlb_settings *cfg = bpf_map_lookup_elem(&settings, &zero);
	__u32 seconds;

	if (!cfg)
		return 300 * XLB_NS_PER_SEC;
	seconds = proto == IPPROTO_TCP ? cfg->tcp_timeout : cfg->udp_timeout;
	return (__u64)seconds * XLB_NS_PER_SEC;
}

/* The live connection-table entry of a flow; NULL when there is none or it has idled out. */
static __always_inline struct xlb_flow *xlb_flow_lookup(const struct xlb_flow_key *key, __u64 now)
{
	struct xlb_flow *flow = bpf_map_lookup_elem(&flows, key);

	if (!flow)
		return NULL;
	/* Signed: another CPU may have stored a later coarse timestamp than ours. Timeouts are
	 * whole seconds: the settings need reading only for a flow idle longer than one. */
	if ((__s64)(now - flow->last_seen) > (__s64)XLB_NS_PER_SEC &&
	    (__s64)(now - flow->last_seen) > (__s64)xlb_flow_timeout_ns(key->proto)) {
		xlb_count(XLB_CTR_FLOW_EXPIRED);
		return NULL;
	}
	return flow;
}

/* Linux waits 1, 2, 4 ... 32 s between the SYNs of one attempt (tcp_syn_retries 6), other
 * stacks less; a bare SYN after a longer silence starts another attempt. */
#define XLB_SYN_RETRY_NS (60 * XLB_NS_PER_SEC)

/* Whether a TCP packet that matches a known flow opens a new connection on the same 5-tuple
 * (a client or NAT reusing its port): a bare SYN after the client ended the flow or went on
 * past the handshake, or after a longer silence than SYN retransmissions leave. A SYN
 * retransmitted while the handshake is under way is not one: it stays on its real. */
static __always_inline int xlb_flow_reopened(const struct xlb_flow *flow, __u8 tcp_flags, __u64 now)
{
	if ((tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) != XLB_TCP_SYN)
		return 0;
	return flow->client_state != 0 || (__s64)(now - flow->last_seen) > (__s64)XLB_SYN_RETRY_NS;
}

/* A TCP flow's client state after a packet with these flags. */
static __always_inline __u32 xlb_client_state(__u32 state, __u8 proto, __u8 tcp_flags)
{
	if (proto != IPPROTO_TCP)
		return state;
	if ((tcp_flags & (XLB_TCP_SYN | XLB_TCP_ACK)) != XLB_TCP_SYN)
		state |= XLB_FLOW_S_OPEN;
	if (tcp_flags & (XLB_TCP_FIN | XLB_TCP_RST))
		state |= XLB_FLOW_S_ENDED;
	return state;
}

/* Refreshes a flow's idle time and what its client has shown, storing only what changed. */
static __always_inline void xlb_flow_touch(struct xlb_flow *flow, __u64 now, __u8 proto, __u8 tcp_flags)
{
	__u32 state = xlb_client_state(flow->client_state, proto, tcp_flags);

	/* The coarse clock ticks per jiffy: skip the store when nothing would change. */
	if ((__s64)(now - flow->last_seen) > 0)
		flow->last_seen = now;
	if (state != flow->client_state)
		flow->client_state = state;
}

static __always_inline int xlb_real_usable(__u32 real_id)
{
	struct xlb_real *real = bpf_map_lookup_elem(&reals, &real_id);

	return real && real->family && !(real->flags & XLB_REAL_F_QUIESCED);
}

static __always_inline void xlb_persist_key(struct xlb_persist_key *pkey,
					    const struct xlb_vip_info *vip,
					    const struct xlb_flow_key *key)
{
	pkey->vip_id = vip->vip_id;
	pkey->family = key->family;
	pkey->client[0] = key->src[0] & vip->persist_mask[0];
	pkey->client[1] = key->src[1] & vip->persist_mask[1];
	pkey->client[2] = key->src[2] & vip->persist_mask[2];
	pkey->client[3] = key->src[3] & vip->persist_mask[3];
}

/* IPVS semantics: a template lives persist_timeout seconds after the last connection that
 * used it; a template whose real is quiesced or gone is not followed (as IPVS does with
 * expire_quiescent_template=1), so draining a real also moves its persistent clients. */
static __always_inline __u32 xlb_persist_lookup(const struct xlb_persist_key *pkey,
						const struct xlb_vip_info *vip, __u64 now)
{
	struct xlb_persist *entry = bpf_map_lookup_elem(&persist, pkey);

	if (!entry)
		return 0;
	if ((__s64)(now - entry->last_seen) > (__s64)((__u64)vip->persist_timeout * XLB_NS_PER_SEC))
		return 0;
	if (!xlb_real_usable(entry->real_id))
		return 0;
	entry->last_seen = now;
	return entry->real_id;
}

/* Picks a real for a packet the table does not know. `opening`: the packet opens a connection,
 * whose choice is remembered (a connection-table entry, a persistence template); otherwise
 * nothing is written and rr/wrr hash instead of moving their cursor (see xlb_ring_position). */
static __always_inline __u32 xlb_new_flow(const struct xlb_vip_info *vip, const struct xlb_flow_key *key,
					  __u8 tcp_flags, __u64 now, int opening)
{
	struct xlb_persist_key pkey = {};
	struct xlb_flow flow = {};
	__u32 real_id = 0, path = XLB_CAPTURE_PATH_PERSISTENCE, noted = 0;

	if (vip->flags & XLB_VIP_F_PERSIST) {
		xlb_persist_key(&pkey, vip, key);
		real_id = xlb_persist_lookup(&pkey, vip, now);
		if (real_id)
			xlb_count(XLB_CTR_PERSIST_HIT);
	}
	if (!real_id) {
		path = XLB_CAPTURE_PATH_SCHEDULER;
		real_id = xlb_schedule(vip, key, !opening);
		/* A hit refreshed its template in place; only a fresh choice writes one (an LRU
		 * update allocates a new element even when the key exists: it is not cheap). */
		if (real_id && opening && (vip->flags & XLB_VIP_F_PERSIST)) {
			struct xlb_persist entry = { .real_id = real_id, .last_seen = now };

			bpf_map_update_elem(&persist, &pkey, &entry, BPF_ANY);
			noted = XLB_CAPTURE_F_PERSIST_WRITTEN;
		}
	}
	if (!real_id) {
		real_id = vip->sorry_real;
		if (!real_id)
			return 0;
		path = XLB_CAPTURE_PATH_SORRY;
		xlb_count(XLB_CTR_SORRY);
	}
	xlb_capture_note_path(path, noted | (opening ? XLB_CAPTURE_F_FLOW_WRITTEN : XLB_CAPTURE_F_MIDSTREAM));
	if (!opening)
		return real_id;
	flow.real_id = real_id;
	flow.vip_id = vip->vip_id;
	flow.last_seen = now;
	flow.created = now;
	flow.client_state = xlb_client_state(0, key->proto, tcp_flags);
	bpf_map_update_elem(&flows, key, &flow, BPF_ANY);
	xlb_count(XLB_CTR_FLOW_NEW);
	return real_id;
}

#endif
