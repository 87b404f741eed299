/* SPDX-License-Identifier: GPL-2.0 */
/* Choosing a real for a new flow: the VIP's ring, walked (rr/wrr) or hashed into (sh/mh). */
#ifndef XLB_BPF_SCHED_H
#define XLB_BPF_SCHED_H

#include "parse.h"

/* Returns the ring position for a new flow, or -1 when the VIP has no usable real. `stateless`:
 * for a packet that opens no flow (a connection this node never saw the start of), which
 * rr/wrr place by the mh hash instead of the cursor: every packet of that connection then goes
 * to the same real, by the ring's weights, and the cursor stays for the connections it places. */
static __always_inline __s64 xlb_ring_position(const struct xlb_vip_info *vip,
					       const struct xlb_flow_key *key, int stateless)
{
	__u32 len = vip->ring_len;
	struct xlb_cursor *cursor;
	__u32 pos;

	if (len == 0)
		return -1;
	switch (vip->sched) {
	case XLB_SCHED_SH:
		return xlb_client_hash(key, 0) % len;
	case XLB_SCHED_MH:
		return xlb_client_hash(key, 1) % len;
	default:
		if (stateless)
			return xlb_client_hash(key, 1) % len;
		/* rr and wrr: a per-CPU cursor, so CPUs never contend on one counter. */
		cursor = bpf_map_lookup_elem(&rr_cursor, &vip->vip_id);
		if (!cursor)
			return 0;
		pos = cursor->pos;
		if (pos >= len)
			pos = 0;
		cursor->pos = pos + 1;
		return pos;
	}
}

/* Real id from the live half of the VIP's ring; 0 when none. */
static __always_inline __u32 xlb_schedule(const struct xlb_vip_info *vip,
					  const struct xlb_flow_key *key, int stateless)
{
	__s64 pos = xlb_ring_position(vip, key, stateless);
	struct xlb_ring_entry *entry;
	__u32 index;

	if (pos < 0 || pos >= ring_size)
		return 0;
	index = xlb_ring_first_element(ring_size, vip->vip_id, vip->ring_slot) + (__u32)pos / XLB_RING_IDS_PER_ENTRY;
	entry = bpf_map_lookup_elem(&ring, &index);
	/* The mask, not the range check above, is what bounds the id index for the verifier. */
	return entry ? entry->real_id[(__u32)pos & (XLB_RING_IDS_PER_ENTRY - 1)] : 0;
}

#endif
