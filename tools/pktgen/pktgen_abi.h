/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between xlb-pktgen and its XDP program: per-CPU generator state and sink counters. */
#ifndef XLB_PKTGEN_ABI_H
#define XLB_PKTGEN_ABI_H

#include <linux/types.h>

/* Map "gen_state" (PERCPU_ARRAY, one entry): where each CPU is in the flow sequence. Each
 * worker starts at its own offset and steps by the number of workers, so that a flow always
 * comes from the same CPU, as RSS would keep it on a NIC. */
struct xlb_pktgen_state {
	__u64 next;      /* sequence number of the next frame */
	__u64 step;      /* added after every frame: the number of workers */
	__u64 generated; /* frames the program has built and returned XDP_TX for */
	__u64 syn;       /* of which TCP SYN */
};

/* Map "sink_stats" (PERCPU_ARRAY, one entry): frames seen and dropped by the sink program. */
struct xlb_pktgen_sink {
	__u64 packets; /* frames received */
	__u64 bytes;   /* frame bytes received (without FCS) */
};

#endif
