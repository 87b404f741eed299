/* SPDX-License-Identifier: GPL-2.0 */
/* The per-CPU flow cache in front of the connection table: an established flow costs an
 * array read and a key compare instead of a hash lookup. Validity rules: xlb_abi.h. */
#ifndef XLB_BPF_FLOW_CACHE_H
#define XLB_BPF_FLOW_CACHE_H

#include "flow.h"

/* The key as five 64-bit words: one compare each, no byte loop. Keys are 8-byte aligned on
 * both sides (the packet's by its declaration, the entry's as the start of a map value). */
static __always_inline int xlb_flow_key_equal(const struct xlb_flow_key *a, const struct xlb_flow_key *b)
{
	const __u64 *x = (const void *)a;
	const __u64 *y = (const void *)b;

	_Static_assert(sizeof(struct xlb_flow_key) == 40, "flow key is five words");
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

static __always_inline struct xlb_flow_cache_entry *xlb_flow_cache_slot_of(const struct xlb_flow_key *key)
{
	__u32 slot = xlb_flow_cache_slot(key);

	return bpf_map_lookup_elem(&flow_cache, &slot);
}

/* xlb_flow_key_equal() for an IPv4 flow given by its header fields, as the fast path has them:
 * the key the general parser would build, compared without being stored. (Comparing only the
 * three words that can differ in a family-4 key saved 7 instructions and no measurable time.) */
static __always_inline int xlb_flow_cache_holds_v4(const struct xlb_flow_cache_entry *entry, __u32 saddr,
						   __u32 daddr, __u16 sport, __u16 dport, __u8 proto)
{
	struct xlb_flow_key key = {
		.src = { saddr }, .dst = { daddr }, .sport = sport, .dport = dport, .proto = proto,
		.family = XLB_FAMILY_V4,
	};

	return xlb_flow_key_equal(&entry->key, &key);
}

/* The same for an IPv6 flow, whose addresses are compared where the packet has them, eight
 * bytes at a time (xlb_load64). */
static __always_inline int xlb_flow_cache_holds_v6(const struct xlb_flow_cache_entry *entry,
						   const struct ipv6hdr *ip6, __u16 sport, __u16 dport, __u8 proto)
{
	struct xlb_flow_key key = {
		.sport = sport, .dport = dport, .proto = proto, .family = XLB_FAMILY_V6,
	};
	__u64 *src = (__u64 *)key.src, *dst = (__u64 *)key.dst;

	src[0] = xlb_load64(&ip6->saddr);
	src[1] = xlb_load64((const void *)&ip6->saddr + 8);
	dst[0] = xlb_load64(&ip6->daddr);
	dst[1] = xlb_load64((const void *)&ip6->daddr + 8);
	return xlb_flow_key_equal(&entry->key, &key);
}

/* Whether an entry that holds the packet's flow may be used as it is; 0 when the connection
 * table must decide (too old, or flows, reals or VIPs changed since: see xlb_abi.h). */
static __always_inline int xlb_flow_cache_current(const struct xlb_flow_cache_entry *entry, __u64 jiffies)
{
	return (__u32)jiffies - entry->filled < XLB_FLOW_CACHE_TTL_JIFFIES &&
	       entry->cache_epoch == vip_filter.cache_epoch;
}

/* Moves an entry's pending counts into the statistics maps (see xlb_abi.h), or drops them
 * when its VIP or real is gone. Out of line: it runs once per fill, never per hit. */
static __attribute__((noinline)) void xlb_flow_cache_flush(struct xlb_flow_cache_entry *entry)
{
	__u32 vip_id = entry->vip_id, real_id = entry->real_id;
	struct xlb_vip_state *state = bpf_map_lookup_elem(&vip_state, &vip_id);
	struct xlb_real *real = bpf_map_lookup_elem(&reals, &real_id);

	if (xlb_flow_cache_pending_counts(entry, state, real)) {
		xlb_traffic(&vip_stats, vip_id, entry->pending_packets, entry->pending_bytes, 0);
		xlb_traffic(&real_stats, real_id, entry->pending_packets, entry->pending_bytes, 0);
		xlb_count_n(entry->pending_counter, entry->pending_packets);
	}
	entry->pending_packets = 0;
	entry->pending_bytes = 0;
}

/* Counts a packet forwarded through the entry; the entry's line is in the cache already,
 * where the three statistics maps would be three more per-CPU lines per packet. */
static __always_inline void xlb_flow_cache_count(struct xlb_flow_cache_entry *entry, __u32 counter, __u64 bytes)
{
	if (entry->pending_counter != counter) {
		if (entry->pending_packets)
			xlb_flow_cache_flush(entry);
		entry->pending_counter = counter;
	}
	entry->pending_packets += 1;
	entry->pending_bytes += bytes;
}

static __always_inline void xlb_flow_cache_fill(struct xlb_flow_cache_entry *entry,
						const struct xlb_flow_key *key, __u32 real_id,
						const struct xlb_real *real, __u32 vip_id, __u32 incarnation,
						__u32 epoch, __u64 jiffies)
{
	if (entry->pending_packets)
		xlb_flow_cache_flush(entry);
	__builtin_memcpy(&entry->key, key, sizeof(entry->key));
	entry->real_id = real_id;
	entry->vip_id = vip_id;
	entry->incarnation = incarnation;
	entry->real_tag = xlb_real_tag(real);
	__builtin_memcpy(entry->dst_mac, real->dst_mac, sizeof(entry->dst_mac));
	__builtin_memcpy(entry->src_mac, real->src_mac, sizeof(entry->src_mac));
	entry->ifindex = real->ifindex;
	entry->tunnel_mtu = 0; /* a tunnel real's hop and hash are set by xlb_forward_tunnel */
	entry->tunnel_hash = 0;
	entry->filled = (__u32)jiffies;
	entry->cache_epoch = epoch;
}

#endif
