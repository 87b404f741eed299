// A freshly loaded balancer per test, on its own bpffs, with the test thread pinned to one CPU
// (BPF_PROG_TEST_RUN runs on the calling CPU; the rr/wrr cursor is per CPU).
#pragma once

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <map>
#include <memory>
#include <vector>

#include "tests/bpf/support/harness.hpp"

namespace xlb::bpftest {

inline const Address kVip4 = Address::parse("198.18.0.10");
inline const Address kVip6 = Address::parse("2001:db8::10");
inline const Address kOther4 = Address::parse("198.18.0.99");
inline const Address kOther6 = Address::parse("2001:db8::99");
inline const Address kRouter4 = Address::parse("198.18.5.1");
inline const Address kRouter6 = Address::parse("2001:db8:5::1");
inline const Mac kEgressMac{0x02, 0x1b, 0x00, 0x00, 0x00, 0xee};
inline constexpr std::uint32_t kLoopback = 1;  // the ingress BPF_PROG_TEST_RUN reports without ctx_in

// Real id n: MAC 02:4e:00:00:00:n, address 198.18.1.n / 2001:db8:1::n.
inline Mac real_mac(std::uint32_t id) { return {0x02, 0x4e, 0x00, 0x00, static_cast<std::uint8_t>(id >> 8),
                                                static_cast<std::uint8_t>(id)}; }
inline Address real_addr(std::uint32_t id, std::uint8_t family = 4) {
  return Address::parse((family == 4 ? "198.18.1." : "2001:db8:1::") + std::to_string(id));
}

class BalancerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<BpfFsMount>("bpftest");
    lb_ = std::make_unique<Balancer>(fs_->path(), options());
    pin_ = std::make_unique<CpuPin>();
  }
  void TearDown() override {
    pin_.reset();
    lb_.reset();
    fs_.reset();
  }
  virtual BalancerOptions options() const { return {}; }

  Balancer& lb() { return *lb_; }
  const std::string& pin_root() const { return fs_->path(); }

  // A real reached with XDP_TX (its ifindex is the test run's ingress).
  void add_real(std::uint32_t id, std::uint32_t flags = 0, std::uint8_t family = 4) {
    lb_->put_real(id, make_real(real_mac(id), kEgressMac, kLoopback, real_addr(id, family), flags));
    macs_[real_mac(id)] = id;
  }

  // Reals 1 and 2 behind three wrr services: TCP port 80 of kVip4 (VIP id 1) and of kVip6 (2),
  // and UDP on every port of kVip4 (3).
  void serve_tcp_and_udp() {
    add_real(1);
    add_real(2);
    lb_->configure(service(XLB_SCHED_WRR), members({{1, 1}, {2, 1}}));
    auto v6 = service(XLB_SCHED_WRR, kVip6);
    v6.vip_id = 2;
    lb_->configure(v6, members({{1, 1}, {2, 1}}));
    auto udp = service(XLB_SCHED_WRR, kVip4, 0);
    udp.proto = kUdp;
    udp.vip_id = 3;
    lb_->configure(udp, members({{1, 1}, {2, 1}}));
  }

  static std::vector<dataplane::RingMember> members(std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> ids_weights) {
    std::vector<dataplane::RingMember> out;
    for (auto [id, weight] : ids_weights) out.push_back({id, weight, real_addr(id).str() + ":80"});
    return out;
  }

  static ServiceSpec service(std::uint32_t sched, const Address& vip = kVip4, std::uint16_t port = 80) {
    ServiceSpec s;
    s.vip = vip;
    s.port = port;
    s.sched = sched;
    return s;
  }

  static PacketSpec tcp(const Address& client, std::uint16_t sport, const Address& vip = kVip4,
                        std::uint16_t dport = 80) {
    PacketSpec p;
    p.src = client;
    p.dst = vip;
    p.sport = sport;
    p.dport = dport;
    return p;
  }

  // The real a frame went to: 0 when the action is not a forward or the MAC is no real's.
  std::uint32_t real_of(const RunResult& r) const {
    if (r.action != XDP_TX && r.action != XDP_REDIRECT) return 0;
    const auto it = macs_.find(frame_dst_mac(r.frame));
    return it == macs_.end() ? 0 : it->second;
  }

  // Runs a frame and returns the real it was forwarded to (0: not forwarded).
  std::uint32_t send(const PacketSpec& p) { return real_of(lb_->run(build_packet(p))); }

  bool is_real_mac(const Mac& mac) const { return macs_.count(mac) != 0; }

 private:
  std::unique_ptr<BpfFsMount> fs_;
  std::unique_ptr<Balancer> lb_;
  std::unique_ptr<CpuPin> pin_;
  std::map<Mac, std::uint32_t> macs_;
};

}  // namespace xlb::bpftest
