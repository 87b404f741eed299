// The per-CPU flow cache in front of the connection table: it serves established flows, and
// never outlives what it copies (a removed real, a removed VIP, a changed flow entry).
#include <bpf/libbpf.h>
#include <sched.h>

#include <algorithm>
#include <cstring>

#include "tests/bpf/balancer/fixture.hpp"

namespace xlb::bpftest {
namespace {

class FlowCacheTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    add_real(1);
    add_real(2);
    lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  }

  // This CPU's cache entry in the slot of the flow (the test thread is pinned).
  xlb_flow_cache_entry cached(const PacketSpec& p) {
    const xlb_flow_key key = make_flow_key(p);
    const auto entries = lb().flow_cache(xlb_flow_cache_slot(&key));
    const int cpu = sched_getcpu();
    EXPECT_GE(cpu, 0);
    EXPECT_LT(static_cast<std::size_t>(cpu), entries.size());
    return entries.at(static_cast<std::size_t>(cpu));
  }

  static bool same_key(const xlb_flow_cache_entry& e, const PacketSpec& p) {
    const xlb_flow_key key = make_flow_key(p);
    return std::memcmp(&e.key, &key, sizeof(key)) == 0;
  }

  // Another client port of the same client whose key lands in the flow's slot.
  static PacketSpec same_slot_as(const PacketSpec& flow) {
    const xlb_flow_key first = make_flow_key(flow);
    PacketSpec other = flow;
    other.tcp_flags = kTcpSyn;
    for (std::uint32_t port = flow.sport + 1u; port < 65536; ++port) {
      other.sport = static_cast<std::uint16_t>(port);
      const xlb_flow_key k = make_flow_key(other);
      if (xlb_flow_cache_slot(&k) == xlb_flow_cache_slot(&first)) return other;
    }
    ADD_FAILURE() << "no colliding port found";
    return other;
  }

  // What the statistics maps alone hold for real 1, without the flow cache's pending counts.
  std::uint64_t real1_packets_in_map() { return lb().real_stats(1).packets - lb().pending().real(1).packets; }

  // A flow on real 1 whose second packet has gone through the connection table into the cache.
  PacketSpec cached_flow(std::uint16_t port = 40000) {
    auto p = tcp(client_v4(1), port);
    EXPECT_EQ(send(p), 1u);
    p.tcp_flags = kTcpAck;
    EXPECT_EQ(send(p), 1u);
    const auto e = cached(p);
    EXPECT_TRUE(same_key(e, p)) << "the program and xlb_flow_cache_slot() disagree on the slot";
    EXPECT_EQ(e.real_id, 1u);
    EXPECT_EQ(e.vip_id, 1u);
    return p;
  }
};

TEST_F(FlowCacheTest, EstablishedFlowIsCachedWithItsRealVipAndEpoch) {
  // VIP id 1's second incarnation, so that a fill that took another one would be seen.
  lb().remove_vip(1, make_vip_key(kVip4, 80, kTcp));
  lb().configure(service(XLB_SCHED_WRR), members({{1, 1}}));
  ASSERT_EQ(lb().vip_state(1).incarnation, 1u);
  const auto epoch = lb().filter().cache_epoch;
  ASSERT_NE(epoch, 0u);
  const auto p = cached_flow();
  EXPECT_EQ(cached(p).cache_epoch, epoch);
  EXPECT_EQ(cached(p).incarnation, 1u);
  EXPECT_NE(cached(p).filled, 0u);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(send(p), 1u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
  EXPECT_EQ(lb().real_stats(1).packets, 12u) << "cache hits count like table hits";
}

// The fast path compares an IPv6 flow's addresses eight bytes at a time: a compare that never
// matches would still forward every packet right (through the table), so count the hits.
TEST_F(FlowCacheTest, Ipv6FlowsAreServedFromTheCache) {
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}}));
  auto p = tcp(client_v6(1), 40000, kVip6);
  ASSERT_EQ(send(p), 1u);
  p.tcp_flags = kTcpAck;
  ASSERT_EQ(send(p), 1u);  // through the table into the cache
  ASSERT_TRUE(same_key(cached(p), p));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send(p), 1u);
  EXPECT_EQ(cached(p).pending_packets, 5u) << "IPv6 packets of a cached flow missed the cache";
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
}

TEST_F(FlowCacheTest, HitsCountInTheEntryUntilTheSlotIsFilledAgain) {
  const auto p = cached_flow();  // two packets through the connection table
  for (int i = 0; i < 10; ++i) ASSERT_EQ(send(p), 1u);
  const auto e = cached(p);
  EXPECT_EQ(e.pending_packets, 10u);
  EXPECT_EQ(e.pending_bytes, 10u * build_packet(p).size());
  EXPECT_EQ(e.pending_counter, static_cast<__u32>(XLB_CTR_TX));
  EXPECT_EQ(real1_packets_in_map(), 2u) << "hits stay out of the per-CPU statistics maps";
  EXPECT_EQ(lb().real_stats(1).packets, 12u);
  EXPECT_EQ(lb().vip_stats(1).packets, 12u);
  EXPECT_EQ(lb().vip_stats(1).bytes, 12u * build_packet(p).size());
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 12u);
  // A new epoch sends the next packet through the table, which fills the slot again and moves
  // the pending counts into the maps.
  lb().bump_cache_epoch();
  ASSERT_EQ(send(p), 1u);
  EXPECT_EQ(cached(p).pending_packets, 0u);
  EXPECT_EQ(real1_packets_in_map(), 13u);
  EXPECT_EQ(lb().real_stats(1).packets, 13u);
  EXPECT_EQ(lb().counter(XLB_CTR_TX), 13u);
}

TEST_F(FlowCacheTest, PendingCountsOfAGoneRealAreDropped) {
  const auto p = cached_flow();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send(p), 1u);
  EXPECT_EQ(lb().real_stats(1).packets, 7u);
  lb().put_real(1, xlb_real{});  // removed: its statistics go with it
  EXPECT_EQ(lb().pending().real(1).packets, 0u) << "readers no longer count them";
  EXPECT_EQ(lb().pending().vip(1).packets, 0u);
  // Another flow takes the slot over; the program drops the pending counts instead of moving them.
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  const auto other = same_slot_as(p);
  EXPECT_EQ(send(other), 2u);
  auto again = other;
  again.tcp_flags = kTcpAck;
  EXPECT_EQ(send(again), 2u);  // through the table into the slot
  EXPECT_TRUE(same_key(cached(again), again));
  EXPECT_EQ(lb().real_stats(1).packets, 2u) << "only the two counted in the map before";
  EXPECT_EQ(lb().vip_stats(1).packets, 4u) << "2 of the old flow, 2 of the new, none of the dropped";
}

TEST_F(FlowCacheTest, ChangedFlowEntryWinsOverTheCacheOnceTheEpochMoves) {
  const auto p = cached_flow();
  auto flow = lb().flow(make_flow_key(p));
  ASSERT_TRUE(flow.has_value());
  flow->real_id = 2;
  lb().put_flow(make_flow_key(p), *flow);  // moves the cache epoch, as the control plane must
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(cached(p).real_id, 2u) << "refilled from the connection table";
  EXPECT_EQ(cached(p).cache_epoch, lb().filter().cache_epoch);
}

// One epoch for every VIP: moving it alone sends each cached flow, of any VIP, through the table
// once; until it moves, an entry changed without announcing it is served from the cache.
TEST_F(FlowCacheTest, CacheEpochAloneSendsEveryCachedFlowThroughTheTable) {
  auto other = service(XLB_SCHED_WRR, kVip4, 443);
  other.vip_id = 2;
  lb().configure(other, members({{1, 1}}));
  const auto p = cached_flow();
  auto q = tcp(client_v4(2), 40001, kVip4, 443);
  ASSERT_EQ(send(q), 1u);
  q.tcp_flags = kTcpAck;
  ASSERT_EQ(send(q), 1u);
  ASSERT_TRUE(same_key(cached(q), q));
  const xlb_flow_key pk = make_flow_key(p), qk = make_flow_key(q);
  ASSERT_NE(xlb_flow_cache_slot(&pk), xlb_flow_cache_slot(&qk));
  EXPECT_EQ(cached(p).cache_epoch, lb().filter().cache_epoch);
  for (const auto& flow : {p, q}) {
    auto entry = lb().flow(make_flow_key(flow));
    ASSERT_TRUE(entry.has_value());
    entry->real_id = 2;
    lb().put_flow(make_flow_key(flow), *entry, /*announce=*/false);
  }
  EXPECT_EQ(send(p), 1u) << "served from the cache";
  EXPECT_EQ(send(q), 1u) << "served from the cache";
  lb().bump_cache_epoch();
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(send(q), 2u);
  EXPECT_EQ(cached(p).real_id, 2u);
  EXPECT_EQ(cached(q).real_id, 2u);
  EXPECT_EQ(cached(q).cache_epoch, lb().filter().cache_epoch);
  EXPECT_EQ(cached(q).vip_id, 2u);
}

TEST_F(FlowCacheTest, CachedFlowIsNeverForwardedToARemovedReal) {
  const auto p = cached_flow();
  lb().put_real(1, xlb_real{});  // removed; its flows not yet flushed
  lb().bump_cache_epoch();       // as the control plane does after writing a reals entry
  const auto out = lb().run(build_packet(p));
  EXPECT_EQ(out.action, XDP_DROP);
  EXPECT_EQ(real_of(out), 0u);
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_REAL_MISSING), 1u);
  // The control plane drops the real's flows: the next packet is placed afresh (an ACK without
  // its flow opens none).
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  lb().flush_flows();
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(lb().counter(XLB_CTR_MIDSTREAM_FORWARDED), 1u);
}

TEST_F(FlowCacheTest, CachedFlowFollowsItsRealToANewMacOnceTheEpochMoves) {
  const auto p = cached_flow();
  const Mac moved{0x02, 0x4e, 0, 0, 0x77, 0x01};
  lb().put_real(1, make_real(moved, kEgressMac, kLoopback, real_addr(1)));
  // Until the epoch moves the entry forwards with its copy (for at most its lifetime).
  auto out = lb().run(build_packet(p));
  ASSERT_EQ(out.action, XDP_TX);
  EXPECT_EQ(real_of(out), 1u);
  EXPECT_EQ(cached(p).pending_packets, 1u) << "a cache hit";
  lb().bump_cache_epoch();
  out = lb().run(build_packet(p));
  ASSERT_EQ(out.action, XDP_TX);
  ASSERT_GE(out.frame.size(), 6u);
  EXPECT_TRUE(std::equal(moved.begin(), moved.end(), out.frame.begin())) << "refilled with the new MAC";
  EXPECT_TRUE(std::equal(moved.begin(), moved.end(), cached(p).dst_mac));
}

TEST_F(FlowCacheTest, RealIdReusedForAnotherServerDoesNotInheritCachedFlows) {
  const auto p = cached_flow();
  // As apply() retires a real: its flows go, its entry is cleared, the epoch moves. Then
  // id 1 comes back as another server.
  const xlb_flow_key key = make_flow_key(p);
  ASSERT_EQ(bpf_map__delete_elem(lb().map("flows"), &key, sizeof(key), 0), 0);
  lb().put_real(1, xlb_real{});
  lb().bump_cache_epoch();
  lb().put_real(1, make_real({0x02, 0x4e, 0, 0, 0x99, 0x99}, kEgressMac, kLoopback, real_addr(99)));
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));
  EXPECT_EQ(send(p), 2u) << "placed afresh, not sent to the server now behind id 1";
  EXPECT_EQ(lb().counter(XLB_CTR_MIDSTREAM_FORWARDED), 1u);
}

TEST_F(FlowCacheTest, CachedFlowStopsWithItsVip) {
  const auto p = cached_flow();
  // Removing a VIP clears its vip_state and moves the cache epoch first, then deletes the vips
  // entry (flows go later).
  const std::uint32_t vip_id = 1;
  const xlb_vip_state gone{};
  ASSERT_EQ(bpf_map__update_elem(lb().map("vip_state"), &vip_id, sizeof(vip_id), &gone, sizeof(gone), BPF_ANY), 0);
  lb().bump_cache_epoch();
  const auto key = make_vip_key(kVip4, 80, kTcp);
  ASSERT_EQ(bpf_map__delete_elem(lb().map("vips"), &key, sizeof(key), 0), 0);
  const Bytes frame = build_packet(p);
  const auto out = lb().run(frame);
  EXPECT_EQ(out.action, XDP_PASS);
  EXPECT_EQ(out.frame, frame);
}

// The program's fast path serves only plain TCP/UDP frames of cached flows; every other shape
// of a cached flow's packet must be decided by the general path as if it met no cache.
TEST_F(FlowCacheTest, CachedFlowsOddPacketsAreDecidedByTheGeneralPath) {
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  lb().configure(v6, members({{1, 1}}));
  std::uint64_t malformed = 0;
  for (const auto& vip : {kVip4, kVip6}) {
    SCOPED_TRACE(vip.str());
    auto p = tcp(vip.family == 4 ? client_v4(1) : client_v6(1), 40000, vip);
    ASSERT_EQ(send(p), 1u);
    p.tcp_flags = kTcpAck;
    ASSERT_EQ(send(p), 1u);  // through the table into the cache
    ASSERT_TRUE(same_key(cached(p), p));

    auto detour = p;  // options or an extension header: the general parser finds the ports
    detour.ipv4_options = vip.family == 4 ? 12 : 0;
    detour.ipv6_dest_options = vip.family == 6;
    EXPECT_EQ(send(detour), 1u);
    EXPECT_EQ(cached(p).pending_packets, 1u) << "served by the cache all the same";

    auto first = p;
    first.fragment = true;
    first.more_fragments = true;
    first.payload = 64;
    EXPECT_EQ(lb().run(build_packet(first)).action, XDP_DROP) << "first fragment";
    auto later = first;
    later.fragment_offset = 10;
    EXPECT_EQ(lb().run(build_packet(later)).action, XDP_PASS) << "later fragment";

    auto cut = p;
    cut.payload = 40;
    Bytes cut_frame = build_packet(cut);
    cut_frame.resize(cut_frame.size() - 10);  // the IP header says 10 bytes more than arrived
    EXPECT_EQ(lb().run(cut_frame).action, XDP_DROP) << "datagram longer than its frame";
    EXPECT_EQ(lb().counter(XLB_CTR_DROP_MALFORMED), ++malformed);

    Bytes bad_version = build_packet(p);
    bad_version[14] = static_cast<std::uint8_t>((bad_version[14] & 0x0f) | 0x70);  // IP version 7
    EXPECT_EQ(lb().run(bad_version).action, XDP_DROP) << "not the IP version its EtherType says";
    EXPECT_EQ(lb().counter(XLB_CTR_DROP_MALFORMED), ++malformed);

    if (vip.family == 4) {
      Bytes bad_len_frame = build_packet(p);
      bad_len_frame[16] = 0;  // total length 19: shorter than the IP header
      bad_len_frame[17] = 19;
      EXPECT_EQ(lb().run(bad_len_frame).action, XDP_DROP) << "total length below the header";
      EXPECT_EQ(lb().counter(XLB_CTR_DROP_MALFORMED), ++malformed);
    }
    EXPECT_EQ(cached(p).pending_packets, 1u) << "none of these counted as forwarded";
  }
  EXPECT_EQ(lb().counter(XLB_CTR_DROP_FRAGMENT), 2u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
}

TEST_F(FlowCacheTest, ShortUdpFrameOfACachedFlowIsForwarded) {
  auto udp = service(XLB_SCHED_WRR, kVip4, 53);
  udp.proto = kUdp;
  udp.vip_id = 2;
  lb().configure(udp, members({{2, 1}}));
  auto p = tcp(client_v4(7), 5353, kVip4, 53);
  p.proto = kUdp;
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(send(p), 2u);  // into the cache
  ASSERT_LT(build_packet(p).size(), 54u) << "shorter than the fast path reads";
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(cached(p).pending_packets, 1u);
  p.payload = 30;  // long enough for the fast path
  EXPECT_EQ(send(p), 2u);
  EXPECT_EQ(cached(p).pending_packets, 2u);
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 1u);
}

TEST_F(FlowCacheTest, PendingCountsStayWithTheVipThatHadTheId) {
  const auto p = cached_flow();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send(p), 1u);
  ASSERT_EQ(lb().pending().vip(1).packets, 5u);
  // The VIP goes, and its id is given to a new VIP (another port) with the same real: the
  // entry's real is still present, so only the id's incarnation tells the counts apart.
  lb().remove_vip(1, make_vip_key(kVip4, 80, kTcp));
  lb().configure(service(XLB_SCHED_WRR, kVip4, 8080), members({{1, 1}}));
  EXPECT_EQ(lb().pending().vip(1).packets, 0u) << "the old VIP's hits counted for the new one";
  const std::uint64_t in_map = lb().vip_stats(1).packets;
  // A flow of the new VIP takes the slot over: the program drops the old counts, too.
  auto other = tcp(client_v4(1), 1, kVip4, 8080);
  const xlb_flow_key old_key = make_flow_key(p);
  for (xlb_flow_key k = make_flow_key(other); xlb_flow_cache_slot(&k) != xlb_flow_cache_slot(&old_key);
       k = make_flow_key(other)) {
    ASSERT_LT(other.sport, 65535) << "no port of the new VIP shares the slot";
    ++other.sport;
  }
  EXPECT_EQ(send(other), 1u);
  other.tcp_flags = kTcpAck;
  EXPECT_EQ(send(other), 1u);  // through the table into the slot
  ASSERT_TRUE(same_key(cached(other), other));
  EXPECT_EQ(lb().vip_stats(1).packets, in_map + 2) << "only the new VIP's two packets";
}

TEST_F(FlowCacheTest, FlowsSharingASlotEachKeepTheirReal) {
  const auto first = cached_flow(40000);
  const PacketSpec second = same_slot_as(first);
  lb().configure(service(XLB_SCHED_WRR), members({{2, 1}}));  // new flows now go to real 2
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(second), 2u);
    EXPECT_EQ(send(first), 1u);
  }
  EXPECT_EQ(lb().counter(XLB_CTR_FLOW_NEW), 2u);
}

// Flows in one slot that differ only in an address: the fast paths compare the key word by word,
// without building it the way the general path does, so each word of each address must tell two
// flows apart.
TEST_F(FlowCacheTest, FlowsSharingASlotThatDifferOnlyInAnAddressEachKeepTheirReal) {
  auto v6 = service(XLB_SCHED_WRR, kVip6);
  v6.vip_id = 2;
  // The same fold, so the same slot: flip one bit in each of two words of an IPv6 address.
  auto flipped = [](Address a, int word1, int word2) {
    a.bytes[static_cast<std::size_t>(word1 * 4 + 3)] ^= 1;
    a.bytes[static_cast<std::size_t>(word2 * 4 + 3)] ^= 1;
    return a;
  };
  // An IPv4 address in 198.18.32/19 (client side: 198.19.160/19) whose key meets `flow`'s slot.
  auto colliding_v4 = [](const PacketSpec& flow, bool vip_side) {
    const xlb_flow_key first = make_flow_key(flow);
    PacketSpec other = flow;
    for (int host = 1; host < 8192; ++host) {
      const std::string low = std::to_string((vip_side ? 32 : 160) + host / 256) + "." + std::to_string(host % 256);
      (vip_side ? other.dst : other.src) = Address::parse((vip_side ? "198.18." : "198.19.") + low);
      const xlb_flow_key k = make_flow_key(other);
      if (xlb_flow_cache_slot(&k) == xlb_flow_cache_slot(&first)) return other;
    }
    ADD_FAILURE() << "no colliding address found";
    return other;
  };
  struct Case {
    std::string name;
    PacketSpec first;
    PacketSpec second;
  };
  std::vector<Case> cases;
  std::uint16_t port = 41000;
  const auto v4_flow = [&] { return tcp(client_v4(1), port++); };
  const auto v6_flow = [&] { return tcp(client_v6(1), port++, kVip6); };
  auto f = v4_flow();
  cases.push_back({"IPv4 client", f, colliding_v4(f, false)});
  f = v4_flow();
  cases.push_back({"IPv4 VIP", f, colliding_v4(f, true)});
  for (const auto& [w1, w2] : {std::pair{0, 1}, std::pair{2, 3}, std::pair{1, 2}}) {
    const std::string words = " words " + std::to_string(w1) + "," + std::to_string(w2);
    f = v6_flow();
    auto c = f;
    c.src = flipped(f.src, w1, w2);
    cases.push_back({"IPv6 client" + words, f, c});
    f = v6_flow();
    c = f;
    c.dst = flipped(f.dst, w1, w2);
    cases.push_back({"IPv6 VIP" + words, f, c});
  }
  std::uint32_t vip_id = 3;
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    const xlb_flow_key a = make_flow_key(c.first);
    const xlb_flow_key b = make_flow_key(c.second);
    ASSERT_EQ(xlb_flow_cache_slot(&a), xlb_flow_cache_slot(&b));
    ASSERT_NE(std::memcmp(&a, &b, sizeof(a)), 0);
    const bool v4 = c.first.dst.family == 4;
    auto home = v4 ? service(XLB_SCHED_WRR) : v6;
    lb().configure(home, members({{1, 1}}));
    auto p = c.first;
    ASSERT_EQ(send(p), 1u);
    p.tcp_flags = kTcpAck;
    ASSERT_EQ(send(p), 1u);
    ASSERT_TRUE(same_key(cached(p), p));
    // The other flow's new connection goes to real 2, on its own VIP or on the same one.
    auto other_home = home;
    if (!(c.second.dst == c.first.dst)) {
      other_home = service(XLB_SCHED_WRR, c.second.dst);
      other_home.vip_id = vip_id++;
    }
    lb().configure(other_home, members({{2, 1}}));
    auto q = c.second;
    ASSERT_EQ(send(q), 2u);
    q.tcp_flags = kTcpAck;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(send(q), 2u);
      EXPECT_EQ(send(p), 1u);
    }
  }
}

}  // namespace
}  // namespace xlb::bpftest
