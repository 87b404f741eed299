/* SPDX-License-Identifier: GPL-2.0 */
/* Choosing a real for a new flow: the VIP's ring, walked (rr/wrr) or hashed into (sh/mh). */
#ifndef XLB_BPF_SCHED_H
#define XLB_BPF_SCHED_H

#include "parse.h"

/* Murmur3-style mixing: cheap, and spreads client addresses and ports well over the ring. */
static __always_inline __u32 xlb_mix(__u32 hash, __u32 word)
{
	word *= 0xcc9e2d51;
	word = (word << 15) | (word >> 17);
	word *= 0x1b873593;
	hash ^= word;
	hash = (hash << 13) | (hash >> 19);
	return hash * 5 + 0xe6546b64;
}

static __always_inline __u32 xlb_finish(__u32 hash)
{
	hash ^= hash >> 16;
	hash *= 0x85ebca6b;
	hash ^= hash >> 13;
	hash *= 0xc2b2ae35;
	hash ^= hash >> 16;
	return hash;
}

static __always_inline __u32 xlb_client_hash(const struct xlb_flow_key *key, int with_port)
{
	__u32 hash = 0x9e3779b9;

	hash = xlb_mix(hash, key->src[0]);
	hash = xlb_mix(hash, key->src[1]);
	hash = xlb_mix(hash, key->src[2]);
	hash = xlb_mix(hash, key->src[3]);
	if (with_port)
		hash = xlb_mix(hash, key->sport);
	return xlb_finish(hash);
}

/* Returns the ring position for a new flow, or -1 when the VIP has no usable real. */
static __always_inline __s64 xlb_ring_position(const struct xlb_vip_info *vip,
					       const struct xlb_flow_key *key)
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
					  const struct xlb_flow_key *key)
{
	__s64 pos = xlb_ring_position(vip, key);
	struct xlb_ring_entry *entry;
	__u32 index;

	if (pos < 0 || pos >= ring_size)
		return 0;
	index = (vip->vip_id * 2 + (vip->ring_slot & 1)) * xlb_ring_half_entries(ring_size) +
		(__u32)pos / XLB_RING_IDS_PER_ENTRY;
	entry = bpf_map_lookup_elem(&ring, &index);
	/* The mask, not the range check above, is what bounds the id index for the verifier. */
	return entry ? entry->real_id[(__u32)pos & (XLB_RING_IDS_PER_ENTRY - 1)] : 0;
}

#endif
