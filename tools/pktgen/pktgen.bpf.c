// SPDX-License-Identifier: GPL-2.0
/* xlb-pktgen's programs. xlb_pktgen_gen runs under BPF_PROG_TEST_RUN in live-frames mode: the
 * kernel hands it a copy of the template frame and it turns that copy into the next frame of
 * the flow sequence (source address, source port, TCP flags) before sending it with XDP_TX.
 * Checksums are updated incrementally from whatever the buffer holds, so the result is right
 * whether the page pool hands back a fresh copy of the template or a recycled frame that
 * someone (the balancer) has rewritten. xlb_pktgen_sink counts and drops what comes back. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pktgen_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by xlb-pktgen before load; the verifier then drops the branches of other families. */
const volatile __u32 cfg_family = 4;       /* 4 or 6 */
const volatile __u32 cfg_proto = IPPROTO_UDP;
const volatile __u32 cfg_flows = 1;        /* flows in the sequence */
const volatile __u32 cfg_src_addrs = 1;    /* distinct source addresses */
const volatile __u32 cfg_src_addr_base = 0; /* last 32 bits of the first source, host order */
const volatile __u32 cfg_src_port_base = 1024;
const volatile __u32 cfg_syn_per_mille = 0; /* share of TCP frames sent as SYN, in 1/1000 */
const volatile __u8 cfg_dst_mac[ETH_ALEN] = {};
const volatile __u8 cfg_src_mac[ETH_ALEN] = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_pktgen_state);
	__uint(max_entries, 1);
} gen_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_pktgen_sink);
	__uint(max_entries, 1);
} sink_stats SEC(".maps");

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'), on 16-bit words in network order. */
static __always_inline void csum_replace2(__sum16 *sum, __be16 from, __be16 to)
{
	__u32 acc = (__u16)~*sum + (__u16)~from + (__u16)to;

	*sum = (__sum16)~csum_fold(acc);
}

static __always_inline void csum_replace4(__sum16 *sum, __be32 from, __be32 to)
{
	csum_replace2(sum, (__be16)(from >> 16), (__be16)(to >> 16));
	csum_replace2(sum, (__be16)(from & 0xffff), (__be16)(to & 0xffff));
}

/* Writes the L4 fields that vary; returns 0, or -1 when the frame is too short. */
static __always_inline int set_l4(void *l4, void *data_end, __be32 old_addr, __be32 new_addr,
				  __be16 sport, int syn)
{
	if (cfg_proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		__be16 *flags_word = (__be16 *)tcp + 6;
		__be16 new_flags;

		if ((void *)(tcp + 1) > data_end)
			return -1;
		csum_replace4(&tcp->check, old_addr, new_addr);
		csum_replace2(&tcp->check, tcp->source, sport);
		tcp->source = sport;
		new_flags = (*flags_word & bpf_htons(0xf000)) |
			    bpf_htons(syn ? TCP_FLAG_SYN : TCP_FLAG_ACK);
		csum_replace2(&tcp->check, *flags_word, new_flags);
		*flags_word = new_flags;
		return 0;
	}
	struct udphdr *udp = l4;

	if ((void *)(udp + 1) > data_end)
		return -1;
	csum_replace4(&udp->check, old_addr, new_addr);
	csum_replace2(&udp->check, udp->source, sport);
	udp->source = sport;
	if (udp->check == 0) /* 0 means "no checksum" for UDP; 0xffff is the same sum */
		udp->check = 0xffff;
	return 0;
}

SEC("xdp")
int xlb_pktgen_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_pktgen_state *state;
	__u32 zero = 0, flow = 0;
	__be32 old_addr, new_addr;
	__be16 sport;
	__u64 seq;
	int syn = 0;

	state = bpf_map_lookup_elem(&gen_state, &zero);
	if (!state)
		return XDP_ABORTED;
	seq = state->next;
	state->next = seq + state->step;
	if (cfg_flows > 1)
		flow = seq % cfg_flows;
	new_addr = bpf_htonl(cfg_src_addr_base + flow % cfg_src_addrs);
	sport = bpf_htons((__u16)(cfg_src_port_base + flow / cfg_src_addrs));
	/* Spread SYNs evenly over the sequence rather than in bursts. */
	if (cfg_proto == IPPROTO_TCP && cfg_syn_per_mille)
		syn = ((seq * 2654435761ULL) >> 16) % 1000 < cfg_syn_per_mille;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	/* Whoever had this page before (the balancer's DR rewrite) changed the MACs; a TUN
	 * encapsulation wrote its outer headers in front of the IP packet, over this Ethernet
	 * header (its EtherType too), and left the IP packet as it was. Byte by byte through the
	 * volatile: a memcpy would let the compiler fold the zero initialiser. */
	for (int i = 0; i < ETH_ALEN; i++) {
		eth->h_dest[i] = cfg_dst_mac[i];
		eth->h_source[i] = cfg_src_mac[i];
	}
	eth->h_proto = bpf_htons(cfg_family == 4 ? ETH_P_IP : ETH_P_IPV6);

	if (cfg_family == 4) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_ABORTED;
		old_addr = ip->saddr;
		csum_replace4(&ip->check, old_addr, new_addr);
		ip->saddr = new_addr;
		if (set_l4(ip + 1, data_end, old_addr, new_addr, sport, syn))
			return XDP_ABORTED;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_ABORTED;
		old_addr = ip6->saddr.in6_u.u6_addr32[3];
		ip6->saddr.in6_u.u6_addr32[3] = new_addr;
		if (set_l4(ip6 + 1, data_end, old_addr, new_addr, sport, syn))
			return XDP_ABORTED;
	}
	state->generated += 1;
	state->syn += syn;
	return XDP_TX;
}

SEC("xdp")
int xlb_pktgen_sink(struct xdp_md *ctx)
{
	struct xlb_pktgen_sink *stats;
	__u32 zero = 0;

	stats = bpf_map_lookup_elem(&sink_stats, &zero);
	if (stats) {
		stats->packets += 1;
		stats->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}
