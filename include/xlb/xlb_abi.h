/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between the XDP program and xlbd: map names, keys and values.
 * Fixed-width kernel types, explicit padding, no bitfields, no bool: hash keys compare
 * bytes, so both sides zero-initialise every key. Bump XLB_ABI_VERSION whenever a layout
 * here changes; xlbd refuses pinned maps written by another version.
 */
#ifndef XLB_ABI_H
#define XLB_ABI_H

#include <linux/types.h>

#define XLB_ABI_VERSION 6
/* Pins of versions from this one to XLB_ABI_VERSION - 1 are adopted too: they differ only in
 * flow_cache, which the loader recreates (it holds nothing that must survive), in vip_filter's
 * cache_epoch, which was zero padding, in vip_state's second word, which counted flow changes
 * as well as incarnations (any value serves as the incarnation to go on from), in counters,
 * which had fewer entries (recreated: statistics restart at zero), and in the flows value,
 * which lacked client_state (the loader copies every flow into a table of the new layout).
 * ABI 6 added the tunnels map (created where missing) and the cache entry's tunnel_mtu; the
 * entry's last padding word later became tunnel_hash, with no bump: an entry of an older ABI 6
 * program reads 0 there, which only gives a cached tunnel flow other hashed outer bits (source
 * address bits, GUE source port, flow label) until its entry refills (XLB_FLOW_CACHE_TTL_JIFFIES). */
#define XLB_ABI_ADOPTABLE 2

/* Address families as stored in keys (not AF_*: these read well in bpftool dumps). */
#define XLB_FAMILY_V4 4
#define XLB_FAMILY_V6 6

/* Scheduler kinds (keepalived/IPVS lb_algo names). */
enum xlb_sched {
	XLB_SCHED_RR = 0,  /* ring = each usable real once */
	XLB_SCHED_WRR = 1, /* ring = smooth weighted interleaving, cursor per CPU */
	XLB_SCHED_SH = 2,  /* ring = weighted Maglev table, hash of client address */
	XLB_SCHED_MH = 3,  /* ring = weighted Maglev table, hash of client address + port */
};

/* vip_info.flags */
#define XLB_VIP_F_PERSIST 0x1u /* persistence_timeout > 0 */
#define XLB_VIP_F_ACTIVE 0x2u  /* this node forwards for the VIP (VRRP master or no VRRP) */
#define XLB_VIP_F_PRESENT 0x4u /* vip_state only: the VIP exists (flags may otherwise be 0) */

/* real.flags */
#define XLB_REAL_F_QUIESCED 0x1u /* weight 0: keeps its flows, gets no new ones, persistence skips it */
#define XLB_REAL_F_LOCAL 0x2u    /* an address of this node (IPVS's "Local"): its packets go to this
				  * node's own stack (XDP_PASS) with nothing rewritten */
#define XLB_REAL_F_TUNNEL 0x4u   /* lb_kind TUN: encapsulated as its tunnels entry says, to the next hop
				  * the kernel's FIB names for addr out of ifindex; dst_mac unused */

/* Global counters (index into the per-CPU "counters" array). */
enum xlb_counter {
	XLB_CTR_PASS = 0,          /* not for a VIP: handed to the kernel */
	XLB_CTR_TX,                /* forwarded with XDP_TX */
	XLB_CTR_REDIRECT,          /* forwarded through the devmap */
	XLB_CTR_DROP_MALFORMED,    /* truncated or inconsistent headers */
	XLB_CTR_DROP_NO_REAL,      /* VIP has no usable real and no sorry server */
	XLB_CTR_DROP_FRAGMENT,     /* IP fragment to a VIP (see README: fragment policy) */
	XLB_CTR_DROP_REAL_MISSING, /* scheduler chose an id with no real entry (a bug or a race) */
	XLB_CTR_PASS_INACTIVE,     /* new flow to a VIP this node is not master of: to the kernel */
	XLB_CTR_DROP_UNSUPPORTED,  /* protocol or extension header the program does not handle */
	XLB_CTR_ICMP_FORWARDED,    /* ICMP error about a VIP flow, sent to that flow's real */
	XLB_CTR_FLOW_NEW,          /* new connection-table entries */
	XLB_CTR_FLOW_EXPIRED,      /* entries found idle past their timeout and rescheduled */
	XLB_CTR_PERSIST_HIT,       /* new flows sent to a real by the persistence table */
	XLB_CTR_SORRY,             /* new flows sent to the sorry server */
	XLB_CTR_LOCAL,             /* handed to this node's stack for a local real or sorry server */
	XLB_CTR_FLOW_REOPENED,     /* SYN reusing the 5-tuple of an ended flow: scheduled afresh */
	/* Frames to a VIP that are no well-formed packet, dropped before they cost a table entry
	 * or reach a real (XLB_CTR_DROP_MALFORMED: the frame ends inside a header). */
	XLB_CTR_DROP_BAD_LENGTH,      /* IP total or payload length leaves no room for the L4 header */
	XLB_CTR_DROP_BAD_L4_HEADER,   /* TCP data offset < 5 or past the segment; UDP length < 8 or past
				       * the datagram */
	XLB_CTR_DROP_BAD_DST_MAC,     /* broadcast or multicast Ethernet destination */
	XLB_CTR_DROP_MARTIAN_SOURCE,  /* new flow from 0/8, 127/8, 224/3, ::, ::1, ff00::/8 or the VIP */
	XLB_CTR_DROP_BAD_EXT_CHAIN,   /* IPv6 payload length ends inside the extension headers */
	XLB_CTR_DROP_ICMP_NOT_FOR_VIP, /* ICMP error whose destination is not the quoted source */
	XLB_CTR_DROP_BAD_TCP_FLAGS,   /* no flag, SYN+FIN or SYN+RST */
	XLB_CTR_MIDSTREAM_FORWARDED,  /* TCP without SYN and without a flow (failover without sync):
				       * sent to the real the scheduler picks, no entry created */
	XLB_CTR_PASS_FOREIGN_MAC,     /* frame to a VIP whose destination MAC is not the interface's
				       * (flooded unknown unicast, promiscuous NIC): to the kernel */
	/* lb_kind TUN (bpf/encap.h, bpf/icmp_too_big.h); encapsulated packets count as TX/REDIRECT */
	XLB_CTR_DROP_TUN_NO_ROUTE,    /* the FIB has no usable route to the real out of its interface */
	XLB_CTR_DROP_TUN_NO_NEIGH,    /* the next hop's MAC is not known yet: xlbd keeps it resolved */
	XLB_CTR_TUN_TOO_BIG,          /* too big once encapsulated: answered with ICMP frag-needed /
				       * packet-too-big (the drop is the answer) */
	XLB_CTR_DROP_TUN_TOO_BIG_LIMITED, /* likewise, but over the ICMP rate limit: dropped silently */
	XLB_CTR_DROP_TUN_TOO_BIG_NO_DF,   /* IPv4 without DF, too big once encapsulated: dropped (no
				       * fragmentation in XDP) */
	XLB_CTR_DROP_TUN_NO_CSUM,     /* GUE needing an outer checksum over an inner packet that gives
				       * none to derive it from (UDP over IPv4 with checksum 0, an IPv6
				       * extension header) */
	XLB_CTR_DROP_TUN_NO_HEADROOM, /* the driver left no room in front of the frame for the headers */
	XLB_CTR_DROP_TUN_FWD_DISABLED, /* IP forwarding is off on the real's egress interface, which the
				       * kernel's FIB lookup for programs requires (docs/tunnel.md) */
	/* ICMP errors from routers between the balancer and a real, about tunnel packets
	 * (bpf/icmp_relay.h): relayed to the flow's client, or why not */
	XLB_CTR_TUN_ICMP_RELAYED,     /* sent to the client from the VIP, quoting its packet */
	XLB_CTR_TUN_ICMP_MTU_CLAMPED, /* relayed with the family's minimum MTU (68, 1280): the router's
				       * less the tunnel's overhead was below it */
	XLB_CTR_DROP_TUN_ICMP_LIMITED, /* over the ICMP rate limit shared with tun_too_big */
	XLB_CTR_DROP_TUN_ICMP_NO_DF,  /* fragmentation needed for a client's IPv4 packet without DF */
	XLB_CTR_DROP_TUN_ICMP_NO_NEIGH, /* the FIB's next hop towards the client has no known MAC */
	XLB_CTR_DROP_TUN_ICMP_NO_ROUTE, /* the FIB has no route towards the client (or forwarding is
				       * off on the interface the error came in by) */
	XLB_CTR_PASS_TUN_ICMP_UNKNOWN, /* quotes a tunnel packet of no flow the balancer tunnels (no
				       * flow, another real or tunnel, not TCP/UDP): to the kernel */
	XLB_CTR_PASS_TUN_ICMP_BAD_QUOTE, /* quotes a tunnel packet but ends (or is inconsistent) before
				       * the client packet's ports: to the kernel */
	XLB_CTR_MAX,
};

/* Map "vips" (HASH): which (address, port, protocol) are virtual services. */
struct xlb_vip_key {
	__u32 addr[4]; /* VIP, network order; IPv4 in addr[0], rest zero */
	__u16 port;    /* network order; 0 = all-ports service */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;   /* XLB_FAMILY_V4 or XLB_FAMILY_V6 */
};

struct xlb_vip_info {
	__u32 vip_id;          /* index into ring, vip_stats, rr_cursor */
	__u32 flags;           /* XLB_VIP_F_* */
	__u32 sched;           /* enum xlb_sched */
	__u32 ring_slot;       /* which half of the VIP's double-buffered ring is live: 0 or 1 */
	__u32 ring_len;        /* entries used in the live half (0: no usable real) */
	__u32 sorry_real;      /* real id of the sorry server, 0 = none */
	__u32 persist_timeout; /* seconds; 0 = no persistence */
	__u32 persist_mask[4]; /* netmask applied to the client address, network order */
	__u32 pad;             /* explicit padding, zero */
};

/* Map "ring" (ARRAY): each VIP has two halves (double buffering: xlbd rewrites the half that
 * vip_info.ring_slot does not name, then flips ring_slot). A half holds ring_size real ids
 * packed XLB_RING_IDS_PER_ENTRY to an element, rounded up to whole elements so that halves
 * never share one; position pos of a half is
 *   element (vip_id * 2 + slot) * xlb_ring_half_entries(ring_size) + pos / XLB_RING_IDS_PER_ENTRY,
 *   id      pos % XLB_RING_IDS_PER_ENTRY.
 * Packing matters because the kernel rounds array values up to 8 bytes: one id per element
 * would spend half the map on padding. 16 ids (64 bytes) rather than 2: the same memory, and
 * rewriting a half writes 8x fewer elements. */
#define XLB_RING_IDS_PER_ENTRY 16 /* a power of two: the program masks with it */

struct xlb_ring_entry {
	__u32 real_id[XLB_RING_IDS_PER_ENTRY]; /* index into reals; 0 = none (also the tail padding) */
};

static inline __u32 xlb_ring_half_entries(__u32 ring_size)
{
	return (ring_size + XLB_RING_IDS_PER_ENTRY - 1) / XLB_RING_IDS_PER_ENTRY;
}

/* The element where a half of a VIP begins; shared by the program and every writer. */
static inline __u32 xlb_ring_first_element(__u32 ring_size, __u32 vip_id, __u32 slot)
{
	return (vip_id * 2 + (slot & 1)) * xlb_ring_half_entries(ring_size);
}

/* Map "reals" (ARRAY, index = real id, 0 unused): where a real server is, at layer 2. */
struct xlb_real {
	__u8 dst_mac[6]; /* real server's MAC (from the neighbour table) */
	__u8 src_mac[6]; /* egress interface's MAC */
	__u32 ifindex;   /* egress interface */
	__u32 flags;     /* XLB_REAL_F_* */
	__u32 addr[4];   /* real server address, network order (for dumps and ICMP) */
	__u8 family;     /* XLB_FAMILY_V4 or XLB_FAMILY_V6; 0 = slot free */
	__u8 pad[3];     /* explicit padding, zero */
};

/* Map "tunnels" (ARRAY, index = real id): how an XLB_REAL_F_TUNNEL real is encapsulated to.
 * The outer family is the real's (IPv4 in IPv6 when the real is IPv6 and the VIP IPv4; IPv6 in
 * IPv4 is not done). The outer source is src, with the bits of src_hash_mask (in the address's
 * last word: addr[0] for IPv4, addr[3] for IPv6) taken from the flow hash, so that a real's
 * receive-side scaling spreads flows over its queues. */
#define XLB_TUN_IPIP 1 /* IP in IP: IPPROTO_IPIP or IPPROTO_IPV6 as the outer protocol */
#define XLB_TUN_GUE 2  /* UDP (dst gue_port, src from the flow hash) + GUE version 0 header */

#define XLB_TUN_F_CSUM 0x1u /* GUE: outer UDP checksum (always over IPv6, where zero is not allowed) */

struct xlb_tunnel {
	__u32 src[4];        /* outer source address, network order, the real's family */
	__u32 dst[4];        /* the real's address, network order (outer destination) */
	__u32 src_hash_mask; /* network order; bits of the last address word taken from the flow hash */
	__u16 gue_port;      /* network order; XLB_TUN_GUE only */
	__u8 type;           /* XLB_TUN_*; 0 = no tunnel (the program drops) */
	__u8 flags;          /* XLB_TUN_F_* */
	__u8 family;         /* XLB_FAMILY_V4 or XLB_FAMILY_V6: the outer header's */
	__u8 pad[3];         /* explicit padding, zero */
	__u32 ifindex;       /* the interface the route to dst leaves by: the FIB is asked for the
			      * next hop out of it (an output lookup, see docs/tunnel.md) */
};

/* Map "tunnel_hops" (PERCPU_ARRAY, index = real id, not pinned): the next hop the FIB last gave
 * for a tunnel real on this CPU, so that the connection table's way (every packet of a flow the
 * flow cache does not hold, as when flows outnumber or collide in its slots) does not ask the
 * FIB per packet. Valid as a flow cache entry is (same epoch, younger than
 * XLB_FLOW_CACHE_TTL_JIFFIES), so route and neighbour changes are followed within that time,
 * and at once after xlbd moves cache_epoch. Holds nothing that must survive the program. */
struct xlb_tunnel_hop {
	__u8 dst_mac[6];   /* the next hop's MAC */
	__u8 src_mac[6];   /* the egress interface's */
	__u32 ifindex;     /* the egress interface */
	__u32 mtu;         /* its MTU, as the FIB gave it */
	__u32 filled;      /* jiffies (lower 32 bits) of the lookup; 0 with ifindex 0 = never */
	__u32 cache_epoch; /* vip_filter.cache_epoch then */
	__u32 pad;         /* explicit padding, zero */
};

/* What a cache entry remembers of its real, so that pending counts of a real id since reused
 * for another server are not counted for the new one. */
static inline __u32 xlb_real_tag(const struct xlb_real *real)
{
	return real->addr[0] ^ real->addr[1] ^ real->addr[2] ^ real->addr[3];
}

/* Map "flows" (LRU_HASH, per-CPU LRU lists): 5-tuple -> real. */
struct xlb_flow_key {
	__u32 src[4];  /* client address, network order */
	__u32 dst[4];  /* VIP, network order */
	__u16 sport;   /* network order */
	__u16 dport;   /* network order */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;   /* XLB_FAMILY_V4 or XLB_FAMILY_V6 */
	__u16 pad;     /* explicit padding, zero */
};

/* The sh/mh schedulers' hash of a client (Murmur3-style mixing: cheap, and spreads client
 * addresses and ports well over the ring); shared by the program and the tools and tests that
 * predict its choice. */
static inline __u32 xlb_mix(__u32 hash, __u32 word)
{
	word *= 0xcc9e2d51;
	word = (word << 15) | (word >> 17);
	word *= 0x1b873593;
	hash ^= word;
	hash = (hash << 13) | (hash >> 19);
	return hash * 5 + 0xe6546b64;
}

static inline __u32 xlb_finish(__u32 hash)
{
	hash ^= hash >> 16;
	hash *= 0x85ebca6b;
	hash ^= hash >> 13;
	hash *= 0xc2b2ae35;
	hash ^= hash >> 16;
	return hash;
}

static inline __u32 xlb_client_hash(const struct xlb_flow_key *key, int with_port)
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

/* xlb_flow.client_state: what the client's side of a TCP connection has shown. In DR the
 * balancer never sees the server's side, so whether a SYN opens a new connection on a reused
 * 5-tuple is decided from these. */
#define XLB_FLOW_S_OPEN 0x1u  /* the client sent more than a bare SYN: the handshake went on */
#define XLB_FLOW_S_ENDED 0x2u /* the client sent FIN or RST */

struct xlb_flow {
	__u32 real_id;      /* chosen real */
	__u32 vip_id;       /* service the flow belongs to (flush by VIP) */
	__u64 last_seen;    /* bpf_ktime_get_ns() of the last packet */
	__u64 created;      /* bpf_ktime_get_ns() of the first packet */
	__u32 client_state; /* XLB_FLOW_S_* (TCP only; 0 for UDP and for flows written by xlbd) */
	__u32 pad;          /* explicit padding, zero */
};

/* Map "persist" (LRU_HASH): (masked client, VIP) -> real, IPVS persistence templates. */
struct xlb_persist_key {
	__u32 client[4]; /* client address AND persist_mask, network order */
	__u32 vip_id;    /* service */
	__u8 family;     /* XLB_FAMILY_V4 or XLB_FAMILY_V6 */
	__u8 pad[3];     /* explicit padding, zero */
};

struct xlb_persist {
	__u32 real_id;   /* real the client sticks to */
	__u32 pad;       /* explicit padding, zero */
	__u64 last_seen; /* bpf_ktime_get_ns() of the last new flow that used it */
};

/* Per-CPU maps "vip_stats" (index vip id) and "real_stats" (index real id). */
struct xlb_traffic_stats {
	__u64 packets;   /* packets forwarded */
	__u64 bytes;     /* bytes forwarded (frame length) */
	__u64 new_flows; /* connection-table entries created */
};

/* Map "settings" (ARRAY, one entry): knobs read by the program at run time. */
struct xlb_settings {
	__u32 abi_version;   /* XLB_ABI_VERSION of the writer */
	__u32 tcp_timeout;   /* seconds a TCP flow may idle before it is rescheduled */
	__u32 udp_timeout;   /* seconds a UDP flow may idle before it is rescheduled */
	__u32 ring_size;     /* real ids (positions) per ring half, as loaded */
	__u32 max_vips;      /* max_entries of vip-indexed maps, as loaded */
	__u32 max_reals;     /* max_entries of real-indexed maps, as loaded */
	__u64 max_flows;     /* max_entries of flows, as loaded */
};

/* Map "vip_state" (ARRAY, index vip id): what an established flow needs of its VIP, read
 * without the vips hash lookup. Written with (and cleared before removing) the vips entry. */
struct xlb_vip_state {
	__u32 flags;       /* XLB_VIP_F_* as in the vips entry, plus XLB_VIP_F_PRESENT; 0 = no such VIP */
	__u32 incarnation; /* counts the VIPs that have held this id: a writer that removes the VIP
			    * moves it (a writer of flags keeps it), so that the next VIP given the
			    * id does not count what the flow caches still hold of this one */
};

/* Per-CPU map "flow_cache" (PERCPU_ARRAY, index xlb_flow_cache_slot(key)): a direct-mapped
 * copy of recently used "flows" entries in front of that hash, so that an established flow
 * costs an array read instead of a hash lookup, and forwards with the real's addresses copied
 * into the entry, without reading reals. The program alone fills it. An entry counts only
 * while it carries the current vip_filter.cache_epoch and is younger than
 * XLB_FLOW_CACHE_TTL_JIFFIES (32-320 ms for HZ 1000-100: jiffies are the one clock a program
 * reads without a helper call); then the program looks the flow up again, which also refreshes
 * the entry's last_seen and LRU position. So a writer that changes or deletes flows, or changes
 * or clears a reals entry, moves cache_epoch afterwards; one that removes a VIP clears its
 * vip_state (no flags, the next incarnation) and then moves cache_epoch. A change nobody
 * announces is seen within XLB_FLOW_CACHE_TTL_JIFFIES. One epoch for all VIPs, not one per VIP,
 * because a hit then reads no map but its entry and the filter the packet passed already (a
 * vip_state read per hit cost 0.6 ns of 10.4); the price is that a change to one VIP sends
 * every cached flow through the table once.
 *
 * Statistics of cache hits: a packet forwarded through an entry is counted in the entry
 * (pending_*), not in vip_stats, real_stats and counters; the program moves the pending counts
 * there when it fills the slot again, which for a flow that keeps sending is at most
 * XLB_FLOW_CACHE_TTL_JIFFIES later. So the statistics maps alone lag; the exact figure is
 * map + pending, where pending counts only for an entry whose VIP is present (vip_state.flags
 * != 0) in the incarnation it was filled in and whose real is present with the same real_tag
 * (xlb_flow_cache_pending_counts()): the program applies the same rule when it moves them, and
 * drops the counts of gone VIPs and reals, whose statistics went with them. */
#define XLB_FLOW_CACHE_ORDER 10 /* 96 KiB per CPU: few pages, so a miss stays cheap */
#define XLB_FLOW_CACHE_SLOTS (1u << XLB_FLOW_CACHE_ORDER)
#define XLB_FLOW_CACHE_TTL_JIFFIES 32

struct xlb_flow_cache_entry {
	struct xlb_flow_key key; /* the flow; all zero = empty slot */
	__u32 real_id;           /* as in the flows entry */
	__u32 vip_id;            /* as in the flows entry */
	__u32 incarnation;       /* vip_state.incarnation when the entry was filled */
	__u32 real_tag;          /* xlb_real_tag() of the real then: pending counts of a real id
				  * since reused for another server are not its */
	__u32 filled;            /* jiffies (lower 32 bits) when the entry was filled */
	__u32 cache_epoch;       /* vip_filter.cache_epoch, read before the table was */
	__u64 pending_bytes;     /* forwarded through this entry, not yet in the statistics maps */
	__u32 pending_packets;   /* likewise; at most one TTL's worth of one flow on one CPU */
	__u32 pending_counter;   /* XLB_CTR_TX or XLB_CTR_REDIRECT: how the pending packets left */
	__u8 dst_mac[6];         /* the real's reals entry when the entry was filled: */
	__u8 src_mac[6];         /* what a cache hit forwards with */
	__u32 ifindex;
	__u32 tunnel_mtu;        /* 0: DR; else a tunnel real, and the egress MTU the FIB gave for it */
	__u32 tunnel_hash;       /* a tunnel real: xlb_flow_key_hash() of the key, which the outer
				  * headers carry (source bits, GUE source port, flow label) */
};

/* Whether an entry's pending counts still belong to its VIP and real (see above); the program
 * and every reader of the statistics decide with this one rule. */
static inline int xlb_flow_cache_pending_counts(const struct xlb_flow_cache_entry *entry,
						const struct xlb_vip_state *state, const struct xlb_real *real)
{
	return entry->pending_packets != 0 && state && state->flags != 0 &&
	       state->incarnation == entry->incarnation && real && real->family != 0 &&
	       xlb_real_tag(real) == entry->real_tag;
}

/* The cache slot of a flow, from its addresses folded to one word each (the XOR of their
 * words; an IPv4 address is its own fold): the program's fast path has no key to hand. */
static inline __u32 xlb_flow_cache_slot_folded(__u32 src_fold, __u32 dst_fold, __u16 sport, __u16 dport,
					       __u8 proto)
{
	__u32 h = (src_fold ^ ((__u32)sport << 16 | dport)) * 0x9e3779b1u;

	h ^= dst_fold ^ proto;
	return (h * 0x85ebca6bu) >> (32 - XLB_FLOW_CACHE_ORDER);
}

/* The cache slot of a flow key, shared by the program and by tools that inspect the cache. */
static inline __u32 xlb_flow_cache_slot(const struct xlb_flow_key *key)
{
	return xlb_flow_cache_slot_folded(key->src[0] ^ key->src[1] ^ key->src[2] ^ key->src[3],
					  key->dst[0] ^ key->dst[1] ^ key->dst[2] ^ key->dst[3], key->sport,
					  key->dport, key->proto);
}

/* Per-CPU map "rr_cursor" (index vip id): position in the ring for rr/wrr. */
struct xlb_cursor {
	__u32 pos; /* next position, modulo ring_len */
	__u32 pad; /* explicit padding, zero */
};

/* Map "vip_filter" (ARRAY, one entry): a bitmap over VIP destination addresses, checked before
 * any hash lookup so that traffic to other addresses passes at the cost of one array read.
 * The program declares it as a global variable of its own section (.data.vip_filter), so it
 * reads it by address instead of a lookup; the loader pins that map as "vip_filter".
 * One bit per VIP address (any port, protocol), at xlb_vip_filter_bit(addr); a set bit only
 * means "maybe a VIP" (the vips map decides). Fail-open: while `enabled` is 0 every address
 * counts as a maybe. Writers set a VIP's bit before adding the VIP, may leave stale bits, and
 * set `enabled` only once every configured VIP address has its bit. */
#define XLB_VIP_FILTER_ORDER 12
#define XLB_VIP_FILTER_BITS (1u << XLB_VIP_FILTER_ORDER)

/* if_macs, indexed by ingress ifindex: the MAC a frame must be sent to for the program to act
 * on it. A switch floods unknown unicast (a dead node's MAC ages out) to every port, so with N
 * active nodes each would forward the same frame; only the node it is addressed to may. */
#define XLB_IF_MACS_MAX 4096
struct xlb_if_mac {
	__u8 mac[6];  /* the interface's MAC */
	__u8 enabled; /* 1: compare; 0 (an interface xlbd did not fill): act on any unicast MAC */
	__u8 pad;     /* explicit padding, zero */
};

struct xlb_vip_filter {
	__u32 enabled;     /* 0: filter not maintained, check the vips map */
	__u32 cache_epoch; /* moves whenever flow cache entries must be dropped (see flow_cache) */
	__u64 bits[XLB_VIP_FILTER_BITS / 64]; /* bit b is bits[b / 64] >> (b % 64) & 1 */
};

/* The filter bit of a destination address (network-order words as in xlb_vip_key.addr; IPv4
 * in addr[0], the rest zero). Shared by the program and xlbd, so both sides agree. */
static inline __u32 xlb_vip_filter_bit(__u32 a0, __u32 a1, __u32 a2, __u32 a3)
{
	return ((a0 ^ a1 ^ a2 ^ a3) * 0x9e3779b1u) >> (32 - XLB_VIP_FILTER_ORDER);
}

/* Capture and trace (bpf/capture.h, xlbctl capture / trace): a side channel of the program.
 * Global "capture" (a global's section, pinned as "capture", read by address): while `enabled`
 * is 0 the program pays one load and a branch at its verdict point. A capturing process writes
 * the filters and a lease; the program switches capture off itself once the lease has expired,
 * so a capturing process that dies (SIGKILL too) stops the copying within the lease. Records
 * go to the ring buffer "capture_ring"; per-CPU counts of what was kept, filtered out and lost
 * are in "capture_scratch". A capture never changes what the program does with a packet. */
#define XLB_CAPTURE_SNAP_MAX 2048 /* bytes of a frame a record can hold */

/* xlb_capture_config.verdicts: which verdicts are copied. */
#define XLB_CAPTURE_V_FORWARDED 0x1u /* XDP_TX, redirect, and a local real's XDP_PASS */
#define XLB_CAPTURE_V_DROPPED 0x2u
#define XLB_CAPTURE_V_PASSED 0x4u /* to the kernel: not a VIP, inactive VIP, foreign MAC */

struct xlb_capture_config {
	__u32 enabled;        /* the gate: 0 = off (the program sets it to 0 when the lease expired) */
	__u32 verdicts;       /* XLB_CAPTURE_V_* */
	__u64 expires_ns;     /* lease: CLOCK_MONOTONIC (bpf_ktime_get_ns) after which capture is off */
	__u64 owner;          /* token of the capturing process (pid << 32 | random), for takeovers */
	__u32 snaplen;        /* bytes per record, 1..XLB_CAPTURE_SNAP_MAX */
	__u32 sample;         /* keep 1 of every `sample` matching packets per CPU; 0 or 1 = all */
	__u32 client[4];      /* source address, network order, already masked */
	__u32 client_mask[4]; /* netmask; the filter is off while client_family is 0 */
	__u32 vip[4];         /* destination address, network order */
	__u32 real[4];        /* forwarded to this real (address as in the reals entry) */
	__u16 vip_port;       /* network order; 0 = any port */
	__u8 client_family;   /* XLB_FAMILY_*; 0 = any client */
	__u8 vip_family;      /* XLB_FAMILY_*; 0 = any destination */
	__u8 real_family;     /* XLB_FAMILY_*; 0 = any real (set: only forwarded packets match) */
	__u8 pad[7];          /* explicit padding, zero */
};

/* xlb_capture_record.path: what decided where a packet went. */
enum xlb_capture_path {
	XLB_CAPTURE_PATH_NONE = 0,     /* a drop or pass decided before any table */
	XLB_CAPTURE_PATH_FLOW_CACHE,   /* the per-CPU flow cache */
	XLB_CAPTURE_PATH_CONNECTION,   /* the connection table */
	XLB_CAPTURE_PATH_PERSISTENCE,  /* a persistence template */
	XLB_CAPTURE_PATH_SCHEDULER,    /* the VIP's scheduler (ring) */
	XLB_CAPTURE_PATH_SORRY,        /* the sorry server: no usable real */
};

/* xlb_capture_record.flags */
#define XLB_CAPTURE_F_FLOW_WRITTEN 0x1u    /* a connection-table entry was written */
#define XLB_CAPTURE_F_PERSIST_WRITTEN 0x2u /* a persistence template was written */
#define XLB_CAPTURE_F_MIDSTREAM 0x4u       /* TCP without SYN and without a flow: no entry */
#define XLB_CAPTURE_F_REOPENED 0x8u        /* a SYN reusing an ended flow's 5-tuple */
#define XLB_CAPTURE_F_TUNNEL 0x10u         /* a TUN forward: the frame is recorded with its outer
					    * headers (IPv4 or IPv6, then UDP + GUE when the outer
					    * protocol is UDP); the filters match the packet inside */

/* One record in capture_ring: this header, then `caplen` bytes of the frame as it left the
 * program (for a DR forward: with the real's MACs; arrived_macs holds the ones it came with). */
struct xlb_capture_record {
	__u64 time_ns;         /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 len;             /* the frame's length */
	__u32 caplen;          /* bytes of it that follow the header */
	__u32 ingress_ifindex; /* interface the frame arrived on */
	__u32 egress_ifindex;  /* forwarded: the interface it leaves by; 0 otherwise */
	__u32 vip_id;          /* forwarded: the flow's service; 0 otherwise */
	__u32 real_id;         /* forwarded: the real chosen; 0 otherwise */
	__u16 action;          /* XDP_* returned */
	__u16 reason;          /* enum xlb_counter the verdict counted (TX, REDIRECT, LOCAL, drop or pass reason) */
	__u16 path;            /* enum xlb_capture_path */
	__u16 flags;           /* XLB_CAPTURE_F_* */
	__u8 arrived_macs[12]; /* destination and source MAC as the frame arrived */
	__u32 pad;             /* explicit padding, zero */
};

/* Per-CPU map "capture_scratch" (one entry): the note the decision points leave for the
 * verdict, what a capture kept and missed, and the record being built. */
struct xlb_capture_counts {
	__u64 recorded; /* records written to capture_ring */
	__u64 filtered; /* packets the filters (or the verdict mask) kept out */
	__u64 sampled;  /* matching packets skipped by --sample */
	__u64 lost;     /* records the ring had no room for */
};

struct xlb_capture_scratch {
	__u16 reason;  /* note: enum xlb_counter of a drop or pass, 0 = none */
	__u16 path;    /* note: enum xlb_capture_path of a new flow */
	__u16 flags;   /* note: XLB_CAPTURE_F_* */
	__u16 pad;     /* explicit padding, zero */
	__u32 vip_id;  /* note: a local real's service */
	__u32 real_id; /* note: a local real */
	__u32 tick;    /* matching packets seen, for sampling */
	__u32 pad2;    /* explicit padding, zero */
	struct xlb_capture_counts counts;
	struct xlb_capture_record record; /* followed by the frame's bytes: */
	__u8 data[XLB_CAPTURE_SNAP_MAX];
};

#endif /* XLB_ABI_H */
