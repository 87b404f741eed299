#include "bench/scale/flow_fill.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <vector>

#include "bench/scale/common.hpp"

namespace xlb::bench::scale {

namespace {

std::uint64_t coarse_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

xlb_flow_key flow_key(std::uint32_t i, std::uint32_t vip_be, std::uint16_t port) {
  xlb_flow_key k{};
  k.src[0] = htonl(0xc6130000u | (i & 0xffffu));
  k.dst[0] = vip_be;
  k.sport = htons(static_cast<std::uint16_t>(1024 + (i >> 16)));
  k.dport = htons(port);
  k.proto = 6;
  k.family = XLB_FAMILY_V4;
  return k;
}

FillResult fill_flows(int flows_fd, std::uint32_t count, std::uint32_t vip_be, std::uint16_t port,
                      std::uint32_t vip_id, std::span<const std::uint32_t> real_ids) {
  constexpr std::uint32_t kBatch = 16384;
  const auto cpus = static_cast<std::uint32_t>(possible_cpus());
  const std::uint64_t now = coarse_ns();
  std::vector<xlb_flow_key> keys;
  std::vector<xlb_flow> values;
  FillResult result;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
    OnCpu on(static_cast<int>(cpu));
    const std::uint32_t first = static_cast<std::uint32_t>(std::uint64_t{count} * cpu / cpus);
    const std::uint32_t last = static_cast<std::uint32_t>(std::uint64_t{count} * (cpu + 1) / cpus);
    for (std::uint32_t start = first; start < last; start += kBatch) {
      const std::uint32_t n = std::min(kBatch, last - start);
      keys.resize(n);
      values.resize(n);
      for (std::uint32_t j = 0; j < n; ++j) {
        keys[j] = flow_key(start + j, vip_be, port);
        values[j] = xlb_flow{};
        values[j].real_id = real_ids[(start + j) % real_ids.size()];
        values[j].vip_id = vip_id;
        values[j].last_seen = now;
        values[j].created = now;
      }
      std::uint32_t done = n;
      if (bpf_map_update_batch(flows_fd, keys.data(), values.data(), &done, nullptr) != 0) {
        throw std::system_error(errno, std::generic_category(), "flows batch update");
      }
      result.inserted += done;
    }
  }
  result.seconds = ms_since(t0) / 1000.0;
  return result;
}

}  // namespace xlb::bench::scale
