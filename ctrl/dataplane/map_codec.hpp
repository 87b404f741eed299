// Translation between the Backend model and the map ABI (xlb_abi.h), and id allocation.
// No kernel access here, so all of it is unit-tested without privileges.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>

#include "ctrl/dataplane/backend.hpp"
#include "ctrl/dataplane/map_values.hpp"
#include "xlb/xlb_abi.h"

namespace xlb::dataplane {

// Throws std::invalid_argument for what the XDP program cannot express (fwmark services).
xlb_vip_key to_vip_key(const ServiceKey& key);
ServiceKey from_vip_key(const xlb_vip_key& key);

// Throws std::invalid_argument for lc/wlc (they need connection counts; IPVS backend only).
xlb_sched to_sched(Scheduler s);

void put_address(const IpAddress& address, __u32 out[4]);
IpAddress get_address(const __u32 in[4], std::uint8_t family);
std::uint8_t family_of(const IpAddress& address);

// persistence_granularity as a netmask in network order; prefix 255 (or beyond the family's
// width) means the whole address.
std::array<__u32, 4> persistence_mask(bool v4, std::uint8_t prefix_len);

// "addr:port" ("[v6]:port"): what Maglev hashes, so it must be the same on every LB node.
std::string real_identity(const RealServer& real);

// Small integer ids, lowest free first, from [first, limit).
class IdPool {
 public:
  IdPool(std::uint32_t first, std::uint32_t limit) : first_(first), limit_(limit), next_(first) {}
  // The lowest free id, in O(log n). Throws std::runtime_error when every id is taken (the
  // map was sized too small).
  std::uint32_t allocate(const char* what);
  void reserve(std::uint32_t id);
  void release(std::uint32_t id);
  std::size_t in_use() const { return used_.size(); }

 private:
  std::uint32_t first_;
  std::uint32_t limit_;
  std::uint32_t next_;            // every id below it is used or in free_
  std::set<std::uint32_t> used_;
  std::set<std::uint32_t> free_;  // released ids below next_
};

}  // namespace xlb::dataplane
