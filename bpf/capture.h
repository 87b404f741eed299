/* SPDX-License-Identifier: GPL-2.0 */
/* Capture and trace: a side channel that copies the frames the program decided, with the
 * decision, into a ring buffer that `xlbctl capture` and `xlbctl trace` read (layout and
 * lease: xlb_abi.h). While nothing captures, a packet pays one load of `capture.enabled` and a
 * branch at its verdict point. A forward is recorded where it is decided (xlb_forward,
 * xlb_forward_cached): a DR forward before its rewrite, so that the record has the MACs it
 * arrived with and the frame as it leaves; a TUN forward after its encapsulation (the MACs it
 * arrived with are gone then: the record's arrived_macs are the outer ones). A drop or a pass
 * is recorded at the program's exit (xlb_capture_exit),
 * with the reason its decision point noted. Nothing here changes a verdict or a packet. */
#ifndef XLB_BPF_CAPTURE_H
#define XLB_BPF_CAPTURE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "maps.h"

/* A global, as vip_filter: the gate is a load by address, no lookup. Pinned as "capture". */
struct xlb_capture_config capture SEC(".data.capture");

/* 1 MiB: a few thousand records of full frames; a capture that outruns its reader loses
 * records, counted, and the command says how many. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capture_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_capture_scratch);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} capture_scratch SEC(".maps");

_Static_assert(__builtin_offsetof(struct xlb_capture_scratch, data) ==
		       __builtin_offsetof(struct xlb_capture_scratch, record) + sizeof(struct xlb_capture_record),
	       "a record's frame bytes follow its header");

static __always_inline int xlb_capture_on(void)
{
	return capture.enabled;
}

static __always_inline struct xlb_capture_scratch *xlb_capture_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&capture_scratch, &zero);
}

/* Notes, left by a decision point for the record written at the verdict; each costs the gate
 * alone while nothing captures. */
static __always_inline void xlb_capture_note_reason(__u32 counter)
{
	struct xlb_capture_scratch *s;

	if (!xlb_capture_on())
		return;
	s = xlb_capture_scratch();
	if (s)
		s->reason = counter;
}

static __always_inline void xlb_capture_note_path(__u32 path, __u32 flags)
{
	struct xlb_capture_scratch *s;

	if (!xlb_capture_on())
		return;
	s = xlb_capture_scratch();
	if (s) {
		if (path)
			s->path = path;
		s->flags |= flags;
	}
}

/* A local real: its packet leaves by XDP_PASS, recorded at the exit. */
static __always_inline void xlb_capture_note_local(__u32 vip_id, __u32 real_id)
{
	struct xlb_capture_scratch *s;

	if (!xlb_capture_on())
		return;
	s = xlb_capture_scratch();
	if (s) {
		s->vip_id = vip_id;
		s->real_id = real_id;
	}
}

static __always_inline int xlb_capture_addr_equal(const __u32 *a, const __u32 *b)
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

/* The filters: the frame's addresses and destination port (read here, bounds-checked: a
 * dropped frame may be anything), the verdict and the real. 1 = copy it. */
static __always_inline int xlb_capture_wanted(const struct xdp_md *ctx, const struct xlb_capture_record *rec,
					      __u32 verdict)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u32 src[4] = {}, dst[4] = {};
	__u16 dport = 0, l3_proto = 0;
	__u8 family = 0, proto = 0;

	if (!(capture.verdicts & verdict))
		return 0;
	if ((void *)(eth + 1) <= data_end)
		l3_proto = eth->h_proto;
	/* A tunnel forward leaves with outer headers (to the real, from this node): the client,
	 * the VIP and its port are those of the packet inside, after the outer IP header (always
	 * without options) and, for GUE, UDP and the GUE header. */
	if (rec->flags & XLB_CAPTURE_F_TUNNEL) {
		__u32 skip = sizeof(struct ipv6hdr);
		__u8 next;

		if (l3_proto == bpf_htons(ETH_P_IP)) {
			struct iphdr *outer = l3;

			if ((void *)(outer + 1) > data_end)
				return 0;
			skip = sizeof(*outer);
			next = outer->protocol;
		} else {
			struct ipv6hdr *outer = l3;

			if ((void *)(outer + 1) > data_end)
				return 0;
			next = outer->nexthdr;
		}
		if (next == IPPROTO_UDP)
			skip += sizeof(struct udphdr) + 4; /* GUE version 0, no optional fields */
		l3 += skip;
		if (l3 + 1 > data_end)
			return 0;
		l3_proto = *(__u8 *)l3 >> 4 == 4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	}
	if (l3_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) <= data_end) {
			family = XLB_FAMILY_V4;
			src[0] = ip->saddr;
			dst[0] = ip->daddr;
			proto = ip->protocol;
			if (!(ip->frag_off & bpf_htons(0x3fff)) && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
				__be16 *ports = (void *)ip + ((*(__u8 *)ip & 0xf) << 2);

				if ((void *)(ports + 2) <= data_end)
					dport = ports[1];
			}
		}
	} else if (l3_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) <= data_end) {
			family = XLB_FAMILY_V6;
			__builtin_memcpy(src, &ip6->saddr, sizeof(src));
			__builtin_memcpy(dst, &ip6->daddr, sizeof(dst));
			proto = ip6->nexthdr;
			if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
				__be16 *ports = (void *)(ip6 + 1);

				if ((void *)(ports + 2) <= data_end)
					dport = ports[1];
			}
		}
	}
	if (capture.client_family) {
		if (family != capture.client_family)
			return 0;
		src[0] &= capture.client_mask[0];
		src[1] &= capture.client_mask[1];
		src[2] &= capture.client_mask[2];
		src[3] &= capture.client_mask[3];
		if (!xlb_capture_addr_equal(src, capture.client))
			return 0;
	}
	if (capture.vip_family) {
		if (family != capture.vip_family || !xlb_capture_addr_equal(dst, capture.vip))
			return 0;
		if (capture.vip_port && capture.vip_port != dport)
			return 0;
	}
	if (capture.real_family) {
		__u32 real_id = rec->real_id;
		struct xlb_real *real = real_id ? bpf_map_lookup_elem(&reals, &real_id) : NULL;

		if (!real || real->family != capture.real_family || !xlb_capture_addr_equal(real->addr, capture.real))
			return 0;
	}
	return 1;
}

/* Writes the record the scratch's header describes, with the frame; `macs` (dst, src), when
 * given, are what a DR forward is about to write over the first 12 bytes (NULL: the frame is
 * already as it leaves). Clears the notes. */
static __attribute__((noinline)) void xlb_capture_emit(struct xdp_md *ctx, struct xlb_capture_scratch *s,
						       const __u8 *macs, __u32 verdict)
{
	struct xlb_capture_record *rec = &s->record;
	__u32 len, caplen;
	__u64 now;

	s->reason = 0;
	s->path = 0;
	s->flags = 0;
	s->vip_id = 0;
	s->real_id = 0;
	/* A packet kept out reads the clock once in 256 (per CPU): the clock is most of what a
	 * narrow capture costs the rest of the traffic (docs/performance.md), and an
	 * orphaned capture still ends within its lease and 256 packets. */
	if (!xlb_capture_wanted(ctx, rec, verdict)) {
		if ((s->counts.filtered++ & 255) == 0 && bpf_ktime_get_ns() > capture.expires_ns)
			capture.enabled = 0;
		return;
	}
	/* The lease ran out: its owner is gone. Off until someone captures again. */
	now = bpf_ktime_get_ns();
	if (now > capture.expires_ns) {
		capture.enabled = 0;
		return;
	}
	if (capture.sample > 1 && s->tick++ % capture.sample) {
		s->counts.sampled += 1;
		return;
	}
	/* A helper, not data_end - data: a scalar that the compiler does not spill as half a pointer. */
	len = bpf_xdp_get_buff_len(ctx);
	caplen = capture.snaplen;
	if (caplen == 0 || caplen > len)
		caplen = len;
	if (caplen > XLB_CAPTURE_SNAP_MAX)
		caplen = XLB_CAPTURE_SNAP_MAX;
	if (caplen < ETH_HLEN)
		return; /* XDP never sees a frame without an Ethernet header */
	if (bpf_xdp_load_bytes(ctx, 0, s->data, caplen))
		return;
	__builtin_memcpy(rec->arrived_macs, s->data, sizeof(rec->arrived_macs));
	if (macs)
		__builtin_memcpy(s->data, macs, 2 * ETH_ALEN);
	rec->time_ns = now;
	rec->len = len;
	rec->caplen = caplen;
	rec->ingress_ifindex = ctx->ingress_ifindex;
	if (bpf_ringbuf_output(&capture_ring, rec, sizeof(*rec) + caplen, 0))
		s->counts.lost += 1;
	else
		s->counts.recorded += 1;
}

/* A forward: DR before the rewrite with the MACs it writes, TUN after the encapsulation with
 * none. `path`: the decision when no new-flow note says otherwise (flow cache, connection table). */
static __always_inline void xlb_capture_forward(struct xdp_md *ctx, const __u8 *macs, __u32 ifindex,
						__u32 vip_id, __u32 real_id, __u32 counter, __u32 path)
{
	struct xlb_capture_scratch *s;

	if (!xlb_capture_on())
		return;
	s = xlb_capture_scratch();
	if (!s)
		return;
	s->record.action = counter == XLB_CTR_TX ? XDP_TX : XDP_REDIRECT;
	s->record.reason = counter;
	s->record.path = s->path ? s->path : path;
	s->record.flags = s->flags | (macs ? 0 : XLB_CAPTURE_F_TUNNEL);
	s->record.egress_ifindex = ifindex;
	s->record.vip_id = vip_id;
	s->record.real_id = real_id;
	xlb_capture_emit(ctx, s, macs, XLB_CAPTURE_V_FORWARDED);
}

/* Drops and passes (a local real's too), out of line: only while capturing. */
static __attribute__((noinline)) void xlb_capture_unforwarded(struct xdp_md *ctx, int action)
{
	struct xlb_capture_scratch *s = xlb_capture_scratch();
	__u32 verdict;

	if (!s)
		return;
	verdict = action == XDP_DROP ? XLB_CAPTURE_V_DROPPED : XLB_CAPTURE_V_PASSED;
	if (s->reason == XLB_CTR_LOCAL)
		verdict = XLB_CAPTURE_V_FORWARDED;
	s->record.action = action;
	s->record.reason = s->reason;
	s->record.path = s->path ? s->path : (s->real_id ? XLB_CAPTURE_PATH_CONNECTION : XLB_CAPTURE_PATH_NONE);
	s->record.flags = s->flags;
	s->record.egress_ifindex = 0;
	s->record.vip_id = s->vip_id;
	s->record.real_id = s->real_id;
	xlb_capture_emit(ctx, s, 0, verdict);
}

/* The program's exit. XDP_TX and redirects were recorded where they were decided; so was a
 * redirect that failed (XDP_ABORTED, a devmap without the port), as the redirect it meant. */
static __always_inline int xlb_capture_exit(struct xdp_md *ctx, int action)
{
	if ((action == XDP_DROP || action == XDP_PASS) && xlb_capture_on())
		xlb_capture_unforwarded(ctx, action);
	return action;
}

#endif
