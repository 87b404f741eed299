// The lb_kind TUN tests' fixture: a balancer whose reals are tunnels out of a veth in a network
// namespace of the test's own (tests/bpf/support/tunnel_netns.hpp), and the byte helpers the
// tests build expected frames with, independently of the program.
#pragma once

#include <arpa/inet.h>

#include <cstring>
#include <memory>

#include "tests/bpf/balancer/fixture.hpp"
#include "tests/bpf/support/tunnel_netns.hpp"

namespace xlb::bpftest {

inline const Mac kGatewayMac{0x02, 0x9a, 0x7e, 0x00, 0x00, 0xfe};
inline const Address kLocal4 = Address::parse("198.18.2.1");
inline const Address kLocal6 = Address::parse("2001:db8:2::1");
inline const Address kTunReal4 = Address::parse("198.18.100.1");
inline const Address kTunReal6 = Address::parse("2001:db8:100::1");
inline const Address kUnresolved4 = Address::parse("198.18.101.1");  // via a gateway with no neighbour entry
inline const Address kUnrouted4 = Address::parse("198.18.102.1");    // no route out of the veth
inline constexpr std::uint16_t kGuePort = 6080;

inline std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}
inline std::uint16_t fold16(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline std::uint16_t get16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }

// Sets an inner IPv4 packet's TOS, TTL and DF (the builder leaves 0, 64, no DF), checksum redone.
inline void set_ipv4_fields(Bytes& frame, std::uint8_t tos, std::uint8_t ttl, bool df) {
  frame[14 + 1] = tos;
  frame[14 + 6] = df ? 0x40 : 0;
  frame[14 + 8] = ttl;
  frame[14 + 10] = frame[14 + 11] = 0;
  const std::uint16_t c = fold16(sum16(frame.data() + 14, (frame[14] & 0xf) * 4));
  frame[14 + 10] = static_cast<std::uint8_t>(c >> 8);
  frame[14 + 11] = static_cast<std::uint8_t>(c);
}
inline void set_ipv6_fields(Bytes& frame, std::uint8_t tclass, std::uint8_t hop_limit) {
  frame[14] = static_cast<std::uint8_t>(0x60 | tclass >> 4);
  frame[15] = static_cast<std::uint8_t>((tclass & 0xf) << 4 | (frame[15] & 0xf));
  frame[14 + 7] = hop_limit;
}

struct Outer {
  Address src, dst;
  std::uint8_t tos = 0, ttl = 0;
  bool gue = false;
  bool gue_csum = false;
  std::uint16_t gue_sport = 0;  // from the frame: the hash is the program's
  std::uint32_t flow_label = 0;  // likewise
};

// The frame the program must send: built here independently, checksums computed over bytes.
inline Bytes expected_frame(const Mac& dst, const Mac& src, const Bytes& inner_ip, const Outer& o) {
  const bool v4 = o.dst.family == 4;
  const std::uint8_t inner_proto = (inner_ip[0] >> 4) == 4 ? 4 : 41;
  Bytes l4;
  if (o.gue) {
    put16(l4, o.gue_sport);
    put16(l4, kGuePort);
    put16(l4, static_cast<std::uint16_t>(8 + 4 + inner_ip.size()));
    put16(l4, 0);
    l4.push_back(0);
    l4.push_back(inner_proto);
    put16(l4, 0);
  }
  l4.insert(l4.end(), inner_ip.begin(), inner_ip.end());
  if (o.gue && o.gue_csum) {
    std::uint32_t pseudo = sum16(o.src.bytes.data(), v4 ? 4 : 16);
    pseudo = sum16(o.dst.bytes.data(), v4 ? 4 : 16, pseudo);
    pseudo += 17 + static_cast<std::uint32_t>(l4.size());
    std::uint16_t c = fold16(sum16(l4.data(), l4.size(), pseudo));
    if (c == 0) c = 0xffff;
    l4[6] = static_cast<std::uint8_t>(c >> 8);
    l4[7] = static_cast<std::uint8_t>(c);
  }
  Bytes out(dst.begin(), dst.end());
  out.insert(out.end(), src.begin(), src.end());
  const std::uint8_t next = o.gue ? 17 : inner_proto;
  if (v4) {
    put16(out, 0x0800);
    const std::size_t ip = out.size();
    out.push_back(0x45);
    out.push_back(o.tos);
    put16(out, static_cast<std::uint16_t>(20 + l4.size()));
    put16(out, 0);
    put16(out, 0x4000);  // DF
    out.push_back(o.ttl);
    out.push_back(next);
    put16(out, 0);
    out.insert(out.end(), o.src.bytes.begin(), o.src.bytes.begin() + 4);
    out.insert(out.end(), o.dst.bytes.begin(), o.dst.bytes.begin() + 4);
    const std::uint16_t c = fold16(sum16(out.data() + ip, 20));
    out[ip + 10] = static_cast<std::uint8_t>(c >> 8);
    out[ip + 11] = static_cast<std::uint8_t>(c);
  } else {
    put16(out, 0x86dd);
    const std::uint32_t first = 0x60000000u | static_cast<std::uint32_t>(o.tos) << 20 | o.flow_label;
    put16(out, static_cast<std::uint16_t>(first >> 16));
    put16(out, static_cast<std::uint16_t>(first));
    put16(out, static_cast<std::uint16_t>(l4.size()));
    out.push_back(next);
    out.push_back(o.ttl);
    out.insert(out.end(), o.src.bytes.begin(), o.src.bytes.end());
    out.insert(out.end(), o.dst.bytes.begin(), o.dst.bytes.end());
  }
  out.insert(out.end(), l4.begin(), l4.end());
  return out;
}

class TunnelTest : public BalancerTest {
 protected:
  void SetUp() override {
    netns_ = std::make_unique<NetnsScope>();
    BalancerTest::SetUp();
  }
  void TearDown() override {
    BalancerTest::TearDown();
    netns_.reset();
  }

  // Real `id` as a tunnel to `to` (outer source `from`), serving TCP port 80 of `vip` alone.
  void serve_through_tunnel(std::uint32_t id, const Address& to, const Address& from, const Address& vip,
                            std::uint8_t type = XLB_TUN_IPIP, std::uint8_t flags = 0, std::uint32_t hash_mask = 0) {
    lb().put_real(id, make_real({}, {}, netns_->ifindex(), to, XLB_REAL_F_TUNNEL));
    xlb_tunnel t{};
    const auto src = from.words(), dst = to.words();
    std::memcpy(t.src, src.data(), sizeof(t.src));
    std::memcpy(t.dst, dst.data(), sizeof(t.dst));
    t.src_hash_mask = hash_mask;
    t.gue_port = htons(kGuePort);
    t.type = type;
    t.flags = flags;
    t.family = to.family;
    t.ifindex = netns_->ifindex();
    lb().put_tunnel(id, t);
    lb().add_tx_port(netns_->ifindex());
    auto s = service(XLB_SCHED_WRR, vip);
    s.vip_id = vip.family == 6 ? 2 : 1;  // as BalancerTest numbers them: one service per family
    lb().configure(s, members({{id, 1}}));
  }

  RunResult run(const Bytes& frame) { return lb().run(frame, netns_->ifindex()); }

  std::unique_ptr<NetnsScope> netns_;
};

inline Bytes inner_of(const Bytes& frame) { return ip_part(frame); }

}  // namespace xlb::bpftest
