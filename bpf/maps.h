/* SPDX-License-Identifier: GPL-2.0 */
/* Map definitions. Every map is pinned by name under the pin root given at load time, so a
 * restarted xlbd (and bpftool) finds the same tables. Sizes here are defaults; the loader
 * sets the real ones before load. */
#ifndef XLB_BPF_MAPS_H
#define XLB_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb/xlb_abi.h"

/* Positions (real ids) per half of a VIP's scheduler ring; prime, for Maglev. Set before load. */
const volatile __u32 ring_size = 4093;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xlb_vip_key);
	__type(value, struct xlb_vip_info);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_vip_state);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_ring_entry);
	/* 256 VIPs x 2 halves x xlb_ring_half_entries(4093); the loader sizes it from its ring_size */
	__uint(max_entries, 256 * 2 * ((4093 + XLB_RING_IDS_PER_ENTRY - 1) / XLB_RING_IDS_PER_ENTRY));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_real);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_tunnel);
	__uint(max_entries, 4096); /* as reals */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_tunnel_hop);
	__uint(max_entries, 4096); /* as reals; a cache, not pinned */
} tunnel_hops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_flow);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_flow_cache_entry);
	__uint(max_entries, XLB_FLOW_CACHE_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xlb_persist_key);
	__type(value, struct xlb_persist);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} persist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_traffic_stats);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_traffic_stats);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} real_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XLB_CTR_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_cursor);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rr_cursor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_settings);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xlb_if_mac);
	__uint(max_entries, XLB_IF_MACS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} if_macs SEC(".maps");

/* A global, not a .maps entry: the program reaches it by address, where a lookup stores the
 * key on the stack, loads it back and checks it (0.3-0.5 ns of an established packet's 10).
 * Its own section makes it a one-entry array of its own, which the loader pins as vip_filter. */
struct xlb_vip_filter vip_filter SEC(".data.vip_filter");

#endif
