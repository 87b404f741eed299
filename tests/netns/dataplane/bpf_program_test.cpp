// Root tests of BpfProgram and XdpAttachment against the real balancer object.
#include "ctrl/dataplane/bpf_program.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "ctrl/dataplane/xdp_attachment.hpp"

#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "lab.hpp"
#include "tests/bpf/support/harness.hpp"
#include "xlb/stale_balancer.skel.h"

namespace xlb::dataplane {
namespace {

using test::BpffsMount;

class BpfProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_root()) GTEST_SKIP() << "needs root (bpf, mount)";
    suffix_ = test::run_suffix();
    mount_ = std::make_unique<BpffsMount>(suffix_);
    ::setenv("LIBXDP_BPFFS", mount_->path().c_str(), 1);
  }
  void TearDown() override {
    if (!veth_.empty()) test::sh("ip link del " + veth_ + " 2>/dev/null");
    mount_.reset();
  }
  BpfProgramOptions options(std::uint32_t flows = 4096) {
    BpfProgramOptions o;
    o.pin_dir = mount_->path() / "xlb";
    o.sizes.max_vips = 8;
    o.sizes.max_reals = 64;
    o.sizes.max_flows = flows;
    o.sizes.max_persist = 1024;
    o.sizes.ring_size = 13;
    return o;
  }
  // A TCP flow of client 198.18.0.1 (src[0] as stored: network order on a little-endian host).
  static xlb_flow_key flow_key(std::uint16_t sport) {
    xlb_flow_key key{};
    key.src[0] = 0x010012c6;
    key.sport = sport;
    key.family = XLB_FAMILY_V4;
    key.proto = 6;
    return key;
  }
  static void put_flow(const BpfProgram& prog, const xlb_flow_key& key, std::uint32_t real_id) {
    xlb_flow flow{};
    flow.real_id = real_id;
    ASSERT_FALSE(prog.flows().update(key, flow));
  }
  // Three quarters of the table's size, written from one CPU: all of it stays with shared LRU
  // lists; per-CPU lists give that CPU max_flows / CPUs and evict the rest.
  static std::uint64_t flows_kept_of_one_cpus_writes(const BpfProgram& prog) {
    // One CPU writes, as xlbd's one thread installs synced flows, and as traffic arrives when a
    // NIC has fewer receive queues than the machine has CPUs.
    const bpftest::CpuPin pin;
    const std::uint32_t writes = prog.sizes().max_flows / 4 * 3;
    for (std::uint32_t i = 0; i < writes; ++i) put_flow(prog, flow_key(static_cast<std::uint16_t>(1024 + i)), 1);
    return prog.flows().count<xlb_flow_key, xlb_flow>();
  }
  // The real a flow of the table names; 0 when the flow is not there.
  static std::uint32_t real_of_flow(const BpfProgram& prog, const xlb_flow_key& key) {
    const auto flow = prog.flows().lookup<xlb_flow_key, xlb_flow>(key);
    return flow ? flow->real_id : 0;
  }
  std::string suffix_;
  std::unique_ptr<BpffsMount> mount_;
  std::string veth_;
};

TEST_F(BpfProgramTest, LoadsPinsAndWritesSettings) {
  BpfProgram prog(options());
  EXPECT_FALSE(prog.reused_pins());
  EXPECT_GE(prog.program_fd(), 0);
  for (const char* name : {"vips", "ring", "reals", "flows", "persist", "vip_stats", "real_stats", "counters",
                           "rr_cursor", "settings", "tx_ports", "vip_filter", "vip_state", "flow_cache", "capture",
                           "capture_ring", "capture_scratch"}) {
    EXPECT_TRUE(std::filesystem::exists(prog.pin_dir() / name)) << name;
  }
  auto s = prog.read_settings();
  EXPECT_EQ(s.abi_version, XLB_ABI_VERSION);
  EXPECT_EQ(s.ring_size, 13u);
  EXPECT_EQ(s.max_flows, 4096u);
  EXPECT_EQ(prog.ring().max_entries(), 8u * 2 * xlb_ring_half_entries(13));  // 13 ids: one packed element per half
  // Room for the shared LRU lists beside the 4096 flows (flow_map_entries).
  EXPECT_EQ(prog.flows().max_entries(), 4096u + 128u * static_cast<unsigned>(libbpf_num_possible_cpus()));
}

TEST_F(BpfProgramTest, ReusesPinsSoFlowsSurviveARestart) {
  const xlb_flow_key key = flow_key(1234);
  {
    BpfProgram first(options());
    put_flow(first, key, 7);
  }
  BpfProgram second(options());
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(real_of_flow(second, key), 7u);
}

// A capture left on in the pins (its xlbctl killed within its lease, or a capture running when
// xlbd restarts) does not survive the next start: the program then copies nothing.
TEST_F(BpfProgramTest, AStartSwitchesOffACaptureLeftInThePins) {
  const auto capture_pin = options().pin_dir / "capture";
  {
    BpfProgram first(options());
    xlb_capture_config on{};
    on.enabled = 1;
    on.verdicts = XLB_CAPTURE_V_FORWARDED;
    on.expires_ns = ~0ull;  // a lease that never runs out
    const PinnedMap pin(capture_pin);
    ASSERT_FALSE(BpfMap(pin.required_fd()).update(__u32{0}, on));
  }
  BpfProgram second(options());
  ASSERT_TRUE(second.reused_pins());
  const PinnedMap pin(capture_pin);
  const auto left = BpfMap(pin.required_fd()).lookup<__u32, xlb_capture_config>(__u32{0});
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->enabled, 0u);
  EXPECT_EQ(left->expires_ns, 0u);
}

TEST_F(BpfProgramTest, OneCpuFillsTheWholeFlowTable) {
  BpfProgram prog(options(4096));
  EXPECT_EQ(prog.flow_lru(), FlowLru::shared);
  EXPECT_EQ(flows_kept_of_one_cpus_writes(prog), 3072u);
}

// Shared lists keep up to 128 free entries per CPU, and a CPU whose own run out takes 128 at a
// time, evicting when fewer are free: a map of exactly max_flows entries written from two CPUs
// in turn held 3,968 of 4,096. The loader gives the lists that room beside the table. (Written
// from one CPU alone, such a map filled without the room: only several CPUs show the loss.)
TEST_F(BpfProgramTest, SharedListsHoldMaxFlowsWrittenFromEveryCpu) {
  BpfProgram prog(options(4096));
  const auto cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  if (cpus < 2) GTEST_SKIP() << "one online CPU: no other CPU's list can hold free entries";
  constexpr std::uint32_t kRun = 100;  // flows each CPU writes in its turn
  const std::uint32_t n = prog.sizes().max_flows;
  for (std::uint32_t first = 0; first < n; first += kRun) {
    const bpftest::CpuPin pin(static_cast<int>(first / kRun) % cpus);
    for (std::uint32_t i = first; i < std::min(first + kRun, n); ++i) {
      put_flow(prog, flow_key(static_cast<std::uint16_t>(1024 + i)), 1);
    }
  }
  EXPECT_EQ((prog.flows().count<xlb_flow_key, xlb_flow>()), prog.sizes().max_flows);
}

TEST_F(BpfProgramTest, PerCpuLruListsHoldTheirShareEach) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus < 2) GTEST_SKIP() << "one possible CPU: its list is the whole table, as with shared lists";
  auto o = options(4096);
  o.flow_lru = FlowLru::per_cpu;
  BpfProgram prog(o);
  EXPECT_EQ(prog.flow_lru(), FlowLru::per_cpu);
  EXPECT_LE(flows_kept_of_one_cpus_writes(prog), 4096u / static_cast<unsigned>(cpus));
}

// A table pinned with per-CPU lists (every xlbd before xdp_flow_lru) keeps them, and its
// flows, under an xlbd configured for shared lists; fresh pins get the configured ones.
TEST_F(BpfProgramTest, PinnedFlowTableKeepsItsLruLists) {
  const xlb_flow_key key = flow_key(2345);
  auto per_cpu = options();
  per_cpu.flow_lru = FlowLru::per_cpu;
  {
    BpfProgram first(per_cpu);
    put_flow(first, key, 3);
  }
  {
    BpfProgram second(options());
    EXPECT_TRUE(second.reused_pins());
    EXPECT_EQ(second.flow_lru(), FlowLru::per_cpu);
    EXPECT_EQ(real_of_flow(second, key), 3u);
    second.unpin();
  }
  BpfProgram fresh(options());
  EXPECT_FALSE(fresh.reused_pins());
  EXPECT_EQ(fresh.flow_lru(), FlowLru::shared);
}

// The kernel rounds a per-CPU table up to a multiple of the CPUs; the pin reports that size.
TEST_F(BpfProgramTest, PerCpuTableOfAnySizeIsAdopted) {
  auto o = options(4095);
  o.flow_lru = FlowLru::per_cpu;
  const xlb_flow_key key = flow_key(2346);
  {
    BpfProgram first(o);
    put_flow(first, key, 4);
  }
  BpfProgram second(o);
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(real_of_flow(second, key), 4u);
}

// Pins of shared lists made before the lists had room of their own (exactly max_flows
// entries) are adopted with their flows rather than refused.
TEST_F(BpfProgramTest, SharedTableWithoutRoomIsAdopted) {
  const xlb_flow_key key = flow_key(2347);
  const std::string pin = (options().pin_dir / "flows").string();
  // What an xlbd before flow_map_entries() pinned: the flows map sized max_flows exactly.
  {
    const int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flows", sizeof(xlb_flow_key), sizeof(xlb_flow), 4096,
                                  nullptr);
    ASSERT_GE(fd, 0);
    xlb_flow flow{};
    flow.real_id = 5;
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &flow, BPF_ANY), 0);
    std::filesystem::create_directories(options().pin_dir);
    ASSERT_EQ(bpf_obj_pin(fd, pin.c_str()), 0);
    ::close(fd);
  }
  BpfProgram second(options(4096));
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(second.flows().max_entries(), 4096u);
  EXPECT_EQ(real_of_flow(second, key), 5u);
}

TEST_F(BpfProgramTest, IncompatiblePinsAreNamed) {
  { BpfProgram first(options(4096)); }
  try {
    BpfProgram second(options(8192));
    FAIL() << "loaded over pins of another size";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("flows is incompatible"), std::string::npos) << e.what();
  }
}

TEST_F(BpfProgramTest, OtherAbiVersionRefused) {
  {
    BpfProgram first(options());
    auto s = first.read_settings();
    s.abi_version = XLB_ABI_VERSION + 41;
    const std::uint32_t zero = 0;
    ASSERT_FALSE(first.settings().update(zero, s));
  }
  try {
    BpfProgram second(options());
    FAIL() << "accepted pins of another ABI";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ABI version"), std::string::npos) << e.what();
  }
}

// An upgrade from the previous ABI keeps the flows: only the flow cache changed layout, and
// it is made afresh instead of refusing the pins.
TEST_F(BpfProgramTest, PinsOfThePreviousAbiAreAdoptedWithAFreshFlowCache) {
  const xlb_flow_key key = flow_key(4321);
  {
    BpfProgram first(options());
    put_flow(first, key, 5);
    auto s = first.read_settings();
    s.abi_version = XLB_ABI_ADOPTABLE;
    const std::uint32_t zero = 0;
    ASSERT_FALSE(first.settings().update(zero, s));
    // The previous flow cache: 64-byte entries.
    const auto path = first.pin_dir() / "flow_cache";
    ASSERT_EQ(::unlink(path.c_str()), 0);
    const int old_cache = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "flow_cache", 4, 64, XLB_FLOW_CACHE_SLOTS, nullptr);
    ASSERT_GE(old_cache, 0);
    ASSERT_EQ(bpf_obj_pin(old_cache, path.c_str()), 0);
    ::close(old_cache);
  }
  BpfProgram second(options());
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(second.read_settings().abi_version, XLB_ABI_VERSION);
  EXPECT_EQ(second.flow_cache().value_size(), sizeof(xlb_flow_cache_entry));
  EXPECT_EQ(real_of_flow(second, key), 5u);
}

// ABI 4's flows lack client_state (24-byte values) and its counters are two fewer: an upgrade
// copies every flow into a table of the new layout (client state 0, as for a synced flow) and
// makes the counters afresh, instead of refusing the pins or dropping the flows.
TEST_F(BpfProgramTest, FlowsOfAbi4AreCopiedIntoTheNewLayout) {
  struct Abi4Flow {
    std::uint32_t real_id, vip_id;
    std::uint64_t last_seen, created;
  };
  static_assert(sizeof(Abi4Flow) == 24);
  const std::uint32_t zero = 0;
  std::uint32_t entries = 0;
  {
    BpfProgram first(options());
    entries = first.flows().max_entries();
    auto s = first.read_settings();
    s.abi_version = 4;
    ASSERT_FALSE(first.settings().update(zero, s));
    const auto flows_path = first.pin_dir() / "flows";
    ASSERT_EQ(::unlink(flows_path.c_str()), 0);
    const int old_flows =
        bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flows", sizeof(xlb_flow_key), sizeof(Abi4Flow), entries, nullptr);
    ASSERT_GE(old_flows, 0);
    for (std::uint16_t port = 5000; port < 5100; ++port) {
      const xlb_flow_key key = flow_key(port);
      const Abi4Flow flow{.real_id = port % 7u + 1, .vip_id = 2, .last_seen = 11, .created = 10};
      ASSERT_EQ(bpf_map_update_elem(old_flows, &key, &flow, BPF_ANY), 0);
    }
    ASSERT_EQ(bpf_obj_pin(old_flows, flows_path.c_str()), 0);
    ::close(old_flows);
    const auto counters_path = first.pin_dir() / "counters";
    ASSERT_EQ(::unlink(counters_path.c_str()), 0);
    const int old_counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "counters", 4, 8, XLB_CTR_MAX - 2, nullptr);
    ASSERT_GE(old_counters, 0);
    ASSERT_EQ(bpf_obj_pin(old_counters, counters_path.c_str()), 0);
    ::close(old_counters);
  }
  BpfProgram second(options());
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(second.flows().value_size(), sizeof(xlb_flow));
  EXPECT_EQ(second.flows().max_entries(), entries);
  EXPECT_EQ(second.counters().max_entries(), static_cast<std::uint32_t>(XLB_CTR_MAX));
  EXPECT_EQ((second.flows().count<xlb_flow_key, xlb_flow>()), 100u);
  for (std::uint16_t port = 5000; port < 5100; ++port) {
    const auto flow = second.flows().lookup<xlb_flow_key, xlb_flow>(flow_key(port));
    ASSERT_TRUE(flow.has_value()) << port;
    EXPECT_EQ(flow->real_id, port % 7u + 1);
    EXPECT_EQ(flow->vip_id, 2u);
    EXPECT_EQ(flow->last_seen, 11u);
    EXPECT_EQ(flow->created, 10u);
    EXPECT_EQ(flow->client_state, 0u);
  }
}

// Issue 27 added eight drop and forward reasons without changing a layout: the pins an ABI 5
// program before it left (16 counters) are adopted, their flows as they are, and the counters
// are made afresh with every reason.
TEST_F(BpfProgramTest, CountersOfTheSixteenReasonProgramAreMadeAfresh) {
  constexpr std::uint32_t kOldCounters = 16;
  static_assert(XLB_CTR_MAX > kOldCounters);
  {
    BpfProgram first(options());
    for (std::uint16_t port = 6000; port < 6010; ++port) {
      const xlb_flow flow{.real_id = 3, .vip_id = 2, .last_seen = 11, .created = 10, .client_state = 1, .pad = 0};
      ASSERT_FALSE(first.flows().update(flow_key(port), flow));
    }
    const auto counters_path = first.pin_dir() / "counters";
    ASSERT_EQ(::unlink(counters_path.c_str()), 0);
    const int old_counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "counters", 4, 8, kOldCounters, nullptr);
    ASSERT_GE(old_counters, 0);
    ASSERT_EQ(bpf_obj_pin(old_counters, counters_path.c_str()), 0);
    ::close(old_counters);
  }
  BpfProgram second(options());
  EXPECT_TRUE(second.reused_pins());
  EXPECT_EQ(second.counters().max_entries(), static_cast<std::uint32_t>(XLB_CTR_MAX));
  EXPECT_EQ((second.flows().count<xlb_flow_key, xlb_flow>()), 10u);
  const auto flow = second.flows().lookup<xlb_flow_key, xlb_flow>(flow_key(6005));
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->real_id, 3u);
  EXPECT_EQ(flow->client_state, 1u);
}

// ABI 3 pinned a flow cache of the same size whose entries meant something else (a 64-bit
// `filled` where cache_epoch is now), and vip_filter as a .maps array, without the
// BPF_F_MMAPABLE of a global's section: the filter is adopted as it is (the program reads it
// by address all the same), the flow cache made afresh.
TEST_F(BpfProgramTest, PinsOfAbi3KeepTheirFilterAndLoseTheirFlowCache) {
  const std::uint32_t vip[4] = {0x0a0012c6, 0, 0, 0};
  const std::uint32_t zero = 0, slot = 5;
  const int cpus = libbpf_num_possible_cpus();
  ASSERT_GT(cpus, 0);
  {
    BpfProgram first(options());
    auto s = first.read_settings();
    s.abi_version = 3;
    ASSERT_FALSE(first.settings().update(zero, s));
    const auto filter_path = first.pin_dir() / "vip_filter";
    ASSERT_EQ(::unlink(filter_path.c_str()), 0);
    const int old_filter = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vip_filter", 4, sizeof(xlb_vip_filter), 1, nullptr);
    ASSERT_GE(old_filter, 0);
    xlb_vip_filter filter{};
    filter.enabled = 1;
    const std::uint32_t bit = xlb_vip_filter_bit(vip[0], vip[1], vip[2], vip[3]);
    filter.bits[bit / 64] |= std::uint64_t{1} << (bit % 64);
    ASSERT_EQ(bpf_map_update_elem(old_filter, &zero, &filter, BPF_ANY), 0);
    ASSERT_EQ(bpf_obj_pin(old_filter, filter_path.c_str()), 0);
    ::close(old_filter);
    std::vector<xlb_flow_cache_entry> entries(static_cast<std::size_t>(cpus));
    for (auto& e : entries) {
      e.key.family = XLB_FAMILY_V4;
      e.real_id = 3;
    }
    ASSERT_EQ(bpf_map_update_elem(first.flow_cache().fd(), &slot, entries.data(), BPF_ANY), 0);
  }
  BpfProgram second(options());
  EXPECT_TRUE(second.reused_pins());
  const auto filter = second.vip_filter().lookup<std::uint32_t, xlb_vip_filter>(zero);
  ASSERT_TRUE(filter.has_value());
  EXPECT_EQ(filter->enabled, 1u) << "the pinned filter was not adopted";
  const std::uint32_t bit = xlb_vip_filter_bit(vip[0], vip[1], vip[2], vip[3]);
  EXPECT_TRUE((filter->bits[bit / 64] >> (bit % 64)) & 1);
  for (const auto& e : second.flow_cache().lookup_per_cpu<std::uint32_t, xlb_flow_cache_entry>(slot)) {
    EXPECT_EQ(e.real_id, 0u) << "an ABI 3 cache entry survived";
  }
}

TEST_F(BpfProgramTest, PinDirNotOnBpffsIsAClearError) {
  auto o = options();
  o.pin_dir = "/run/xlb-not-bpffs-" + suffix_ + "/xlb";
  try {
    BpfProgram prog(o);
    FAIL() << "loaded with pins on tmpfs";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not on a bpf filesystem"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists("/run/xlb-not-bpffs-" + suffix_));
}

TEST_F(BpfProgramTest, NonPrimeRingRefused) {
  auto o = options();
  o.sizes.ring_size = 16;
  EXPECT_THROW(BpfProgram prog(o), std::invalid_argument);
}

TEST_F(BpfProgramTest, AttachesNativeAndDetaches) {
  veth_ = "xlbt" + suffix_;
  test::must("ip link add " + veth_ + " type veth peer name " + veth_ + "p");
  test::must("ip link set " + veth_ + " up && ip link set " + veth_ + "p up");
  BpfProgram prog(options());
  const int ifindex = interface_index(veth_);
  {
    XdpAttachment attach(prog.object(), "xlb_balancer", ifindex);
    EXPECT_EQ(attach.mode(), XdpMode::native);
    EXPECT_EQ(test::sh("ip link show " + veth_ + " | grep -q 'xdp'"), 0);
  }
  EXPECT_NE(test::sh("ip link show " + veth_ + " | grep -q 'prog/xdp'"), 0);
}

// The id of the program attached to an interface in native mode, 0 when there is none.
std::uint32_t attached_id(int ifindex) {
  std::uint32_t id = 0;
  return bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &id) == 0 ? id : 0;
}

std::uint32_t program_id(int fd) {
  bpf_prog_info info = {};
  std::uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// A restarted xlbd finds its predecessor's program still attached: the same code on the same
// pins is adopted as it runs (its id stays), and detaching later still works.
TEST_F(BpfProgramTest, AdoptsTheSameProgramLeftAttached) {
  veth_ = "xlbt" + suffix_;
  test::must("ip link add " + veth_ + " type veth peer name " + veth_ + "p");
  test::must("ip link set " + veth_ + " up && ip link set " + veth_ + "p up");
  const int ifindex = interface_index(veth_);
  BpfProgram first(options());
  {
    XdpAttachment left(first.object(), "xlb_balancer", ifindex, {.detach_on_destroy = false});
    EXPECT_EQ(left.takeover(), XdpTakeover::none);
  }
  const auto running = attached_id(ifindex);
  ASSERT_EQ(running, program_id(first.program_fd()));
  BpfProgram second(options());
  ASSERT_TRUE(second.reused_pins());
  {
    XdpAttachment again(second.object(), "xlb_balancer", ifindex);
    EXPECT_EQ(again.takeover(), XdpTakeover::adopted);
    EXPECT_EQ(attached_id(ifindex), running) << "the running program was replaced, not adopted";
  }
  EXPECT_EQ(attached_id(ifindex), 0u) << "the adopted program was not detached";
}

// Other code of the same name (an older release) is swapped for ours in one netlink request.
TEST_F(BpfProgramTest, ReplacesOtherCodeOfTheSameNameInOneStep) {
  veth_ = "xlbt" + suffix_;
  test::must("ip link add " + veth_ + " type veth peer name " + veth_ + "p");
  test::must("ip link set " + veth_ + " up && ip link set " + veth_ + "p up");
  const int ifindex = interface_index(veth_);
  std::unique_ptr<xlb_stale_balancer, decltype(&xlb_stale_balancer__destroy)> old(xlb_stale_balancer__open_and_load(),
                                                                                 &xlb_stale_balancer__destroy);
  ASSERT_TRUE(old);
  ASSERT_EQ(bpf_xdp_attach(ifindex, bpf_program__fd(old->progs.xlb_balancer), XDP_FLAGS_DRV_MODE, nullptr), 0);
  const auto old_id = attached_id(ifindex);
  ASSERT_NE(old_id, 0u);
  BpfProgram prog(options());
  {
    XdpAttachment upgrade(prog.object(), "xlb_balancer", ifindex);
    EXPECT_EQ(upgrade.takeover(), XdpTakeover::replaced);
    EXPECT_EQ(attached_id(ifindex), program_id(prog.program_fd()));
  }
  EXPECT_EQ(attached_id(ifindex), 0u);
}

}  // namespace
}  // namespace xlb::dataplane
