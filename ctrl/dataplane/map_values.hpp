// How to read three kinds of values the program writes into its maps: timestamps, counter
// indexes and addresses. Header-only, for xlbctl and the pktgen target too, which read maps
// without the dataplane library.
#pragma once

#include <arpa/inet.h>
#include <time.h>

#include <cstdint>
#include <string>

#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

// Now on the clock of the maps' timestamps (bpf_ktime_get_coarse_ns and bpf_ktime_get_ns:
// CLOCK_MONOTONIC), in ns.
inline std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// An address as the maps or a frame hold it (4 or 16 bytes in network order, any alignment),
// family XLB_FAMILY_V4 or XLB_FAMILY_V6.
inline std::string address_text(const void* bytes, std::uint8_t family) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == XLB_FAMILY_V6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text));
  return text;
}

// "tx", "drop_no_real", ...: enum xlb_counter as metric label values; "unknown" past the end.
inline const char* counter_name(std::uint32_t counter) {
  static constexpr const char* kNames[] = {
      "pass",          "tx",           "redirect",       "drop_malformed",    "drop_no_real",
      "drop_fragment", "drop_real_missing", "pass_inactive", "drop_unsupported", "icmp_forwarded",
      "flow_new",      "flow_expired", "persist_hit",    "sorry",             "local",
      "flow_reopened", "drop_bad_length", "drop_bad_l4_header", "drop_bad_dst_mac", "drop_martian_source",
      "drop_bad_ext_chain", "drop_icmp_not_for_vip", "drop_bad_tcp_flags", "midstream_forwarded", "pass_foreign_mac",
      "drop_tun_no_route", "drop_tun_no_neigh", "tun_too_big", "drop_tun_too_big_limited", "drop_tun_too_big_no_df",
      "drop_tun_no_csum", "drop_tun_no_headroom",
      "drop_tun_fwd_disabled",
      "tun_icmp_relayed", "tun_icmp_mtu_clamped", "drop_tun_icmp_limited", "drop_tun_icmp_no_df",
      "drop_tun_icmp_no_neigh", "drop_tun_icmp_no_route", "pass_tun_icmp_unknown", "pass_tun_icmp_bad_quote",
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == XLB_CTR_MAX, "a counter without a name");
  return counter < XLB_CTR_MAX ? kNames[counter] : "unknown";
}

// "wrr", "mh", ...: enum xlb_sched as configured (lb_algo); "?" for a value it does not have.
inline const char* sched_name(std::uint32_t sched) {
  switch (sched) {
    case XLB_SCHED_RR: return "rr";
    case XLB_SCHED_WRR: return "wrr";
    case XLB_SCHED_SH: return "sh";
    case XLB_SCHED_MH: return "mh";
  }
  return "?";
}

}  // namespace xlb::dataplane
