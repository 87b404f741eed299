/* SPDX-License-Identifier: GPL-2.0 */
/* The VIP address prefilter: one array read decides that most non-VIP traffic is not ours,
 * before the parser reads ports and before any hash lookup. */
#ifndef XLB_BPF_FILTER_H
#define XLB_BPF_FILTER_H

#include "stats.h"

/* 0 when the destination is certainly no VIP; 1 when it may be one (or the filter is off).
 * `folded`: an IPv4 address, or an IPv6 one folded to a word (xlb_fold_v6), which is what
 * xlb_vip_filter_bit makes of the four words. */
static __always_inline int xlb_maybe_vip(__u32 folded)
{
	__u32 bit = xlb_vip_filter_bit(folded, 0, 0, 0);

	/* The bit first: traffic to a VIP reads one cache line of the filter; `enabled`, on
	 * another, is read only to trust a clear bit. */
	if ((vip_filter.bits[bit / 64] >> (bit % 64)) & 1)
		return 1;
	return !vip_filter.enabled;
}

/* Read once per fill, before the connection table. Writers change the table, then move the
 * epoch: if the table read missed a change, this read came before the move as well, and the
 * entry is stale as soon as the move lands. (x86 keeps loads in order; the compiler keeps a
 * volatile load before the helper call after it.) */
static __always_inline __u32 xlb_cache_epoch(void)
{
	return *(volatile const __u32 *)&vip_filter.cache_epoch;
}

#endif
