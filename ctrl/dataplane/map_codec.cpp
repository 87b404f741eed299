#include "ctrl/dataplane/map_codec.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace xlb::dataplane {

std::uint8_t family_of(const IpAddress& address) { return address.is_v4() ? XLB_FAMILY_V4 : XLB_FAMILY_V6; }

void put_address(const IpAddress& address, __u32 out[4]) {
  std::memset(out, 0, 16);
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    std::memcpy(out, b.data(), 4);
  } else {
    const auto b = address.to_v6().to_bytes();
    std::memcpy(out, b.data(), 16);
  }
}

IpAddress get_address(const __u32 in[4], std::uint8_t family) {
  if (family == XLB_FAMILY_V4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), in, 4);
    return boost::asio::ip::address_v4(b);
  }
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), in, 16);
  return boost::asio::ip::address_v6(b);
}

xlb_vip_key to_vip_key(const ServiceKey& key) {
  if (key.fwmark != 0) throw std::invalid_argument("fwmark services need the IPVS backend");
  xlb_vip_key out{};
  put_address(key.address, out.addr);
  out.port = htons(key.port);
  out.proto = static_cast<__u8>(key.protocol);
  out.family = family_of(key.address);
  return out;
}

ServiceKey from_vip_key(const xlb_vip_key& key) {
  ServiceKey out;
  out.address = get_address(key.addr, key.family);
  out.port = ntohs(key.port);
  out.protocol = static_cast<Protocol>(key.proto);
  return out;
}

xlb_sched to_sched(Scheduler s) {
  switch (s) {
    case Scheduler::rr:
      return XLB_SCHED_RR;
    case Scheduler::wrr:
      return XLB_SCHED_WRR;
    case Scheduler::sh:
      return XLB_SCHED_SH;
    case Scheduler::mh:
      return XLB_SCHED_MH;
    case Scheduler::lc:
    case Scheduler::wlc:
      break;
  }
  throw std::invalid_argument("lb_algo lc/wlc need connection counts: use the IPVS backend or rr/wrr/sh/mh");
}

std::array<__u32, 4> persistence_mask(bool v4, std::uint8_t prefix_len) {
  const unsigned width = v4 ? 32 : 128;
  const unsigned bits = prefix_len > width ? width : prefix_len;
  std::array<unsigned char, 16> bytes{};
  for (unsigned i = 0; i < bits; ++i) bytes[i / 8] |= static_cast<unsigned char>(0x80u >> (i % 8));
  std::array<__u32, 4> mask{};
  std::memcpy(mask.data(), bytes.data(), 16);
  return mask;
}

std::string real_identity(const RealServer& real) {
  if (real.address.is_v6()) return "[" + real.address.to_string() + "]:" + std::to_string(real.port);
  return real.address.to_string() + ":" + std::to_string(real.port);
}

std::uint32_t IdPool::allocate(const char* what) {
  std::uint32_t id = 0;
  if (!free_.empty()) {
    id = *free_.begin();
    free_.erase(free_.begin());
  } else {
    while (next_ < limit_ && used_.contains(next_)) ++next_;  // past ids reserved from the pins
    if (next_ >= limit_) {
      throw std::runtime_error(std::string("no free ") + what + " id: all " + std::to_string(limit_ - first_) +
                               " in use; raise the table size");
    }
    id = next_++;
  }
  used_.insert(id);
  return id;
}

void IdPool::reserve(std::uint32_t id) {
  used_.insert(id);
  free_.erase(id);
}

void IdPool::release(std::uint32_t id) {
  if (used_.erase(id) != 0 && id < next_) free_.insert(id);
}

}  // namespace xlb::dataplane
