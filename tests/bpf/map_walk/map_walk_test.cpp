// BpfMap::for_each_entry and entries() over maps the test creates in the kernel: every entry
// exactly once across batch boundaries, an empty map, a bucket-sized corner, and a map type
// without batch operations (LPM trie) that takes the key-by-key fallback.
#include "ctrl/dataplane/bpf_map.hpp"
#include "ctrl/dataplane/per_cpu_values.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "tests/bpf/support/harness.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <vector>
#include <algorithm>

namespace xlb::dataplane {
namespace {

class MapFd {
 public:
  MapFd(bpf_map_type type, std::uint32_t key_size, std::uint32_t value_size, std::uint32_t max_entries,
        std::uint32_t flags = 0) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
    fd_ = bpf_map_create(type, "xlb_walk_test", key_size, value_size, max_entries, &opts);
    err_ = fd_ < 0 ? -fd_ : 0;
  }
  ~MapFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  MapFd(const MapFd&) = delete;
  MapFd& operator=(const MapFd&) = delete;
  int fd() const { return fd_; }
  int error() const { return err_; }

 private:
  int fd_ = -1;
  int err_ = 0;
};

struct Key {
  std::uint32_t a;
  std::uint32_t b;
  bool operator<(const Key& o) const { return std::tie(a, b) < std::tie(o.a, o.b); }
};
struct Value {
  std::uint64_t x;
  std::uint32_t y;
  std::uint32_t pad;
};

#define REQUIRE_MAP(m)                                                                                   \
  do {                                                                                                   \
    if ((m).error() == EPERM) GTEST_SKIP() << "creating BPF maps needs CAP_BPF (run as root)";            \
    ASSERT_GE((m).fd(), 0) << "bpf_map_create: " << std::strerror((m).error());                          \
  } while (0)

void fill(int fd, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    const Key k{i, i * 7 + 1};
    const Value v{std::uint64_t{i} * 1000, i ^ 0x5a5a, 0};
    ASSERT_EQ(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0) << i;
  }
}

// Every key once, each with its own value.
void expect_all(const std::map<Key, Value>& seen, std::uint32_t n) {
  ASSERT_EQ(seen.size(), n);
  for (const auto& [k, v] : seen) {
    EXPECT_EQ(k.b, k.a * 7 + 1);
    EXPECT_EQ(v.x, std::uint64_t{k.a} * 1000);
    EXPECT_EQ(v.y, k.a ^ 0x5a5a);
  }
}

class MapWalk : public ::testing::TestWithParam<bpf_map_type> {};

TEST_P(MapWalk, VisitsEveryEntryOnceAcrossBatches) {
  constexpr std::uint32_t n = 5000;  // several lookup_batch calls
  MapFd m(GetParam(), sizeof(Key), sizeof(Value), 8192);
  REQUIRE_MAP(m);
  fill(m.fd(), n);
  const BpfMap map(m.fd());
  map.check_types<Key, Value>();
  std::map<Key, Value> seen;
  std::size_t calls = 0;
  map.for_each_entry<Key, Value>([&](const Key& k, const Value& v) {
    ++calls;
    seen.emplace(k, v);
  });
  EXPECT_EQ(calls, n);  // no entry twice
  expect_all(seen, n);

  const auto copied = map.entries<Key, Value>();
  ASSERT_EQ(copied.size(), n);
  std::map<Key, Value> from_entries(copied.begin(), copied.end());
  expect_all(from_entries, n);
}

TEST_P(MapWalk, EmptyMapCallsNothing) {
  MapFd m(GetParam(), sizeof(Key), sizeof(Value), 64);
  REQUIRE_MAP(m);
  const BpfMap map(m.fd());
  int calls = 0;
  map.for_each_entry<Key, Value>([&](const Key&, const Value&) { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE((map.entries<Key, Value>().empty()));
}

TEST_P(MapWalk, ExactlyOneChunkAndOneMore) {
  for (std::uint32_t n : {1024u, 1025u, 1u}) {
    MapFd m(GetParam(), sizeof(Key), sizeof(Value), 4096);
    REQUIRE_MAP(m);
    fill(m.fd(), n);
    std::map<Key, Value> seen;
    BpfMap(m.fd()).for_each_entry<Key, Value>([&](const Key& k, const Value& v) { seen.emplace(k, v); });
    expect_all(seen, n);
  }
}

INSTANTIATE_TEST_SUITE_P(HashTypes, MapWalk, ::testing::Values(BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH),
                         [](const auto& info) { return info.param == BPF_MAP_TYPE_HASH ? "hash" : "lru_hash"; });

// A devmap hash has get_next_key but no batch lookup (the kernel answers its internal ENOTSUPP,
// 524): the walk goes key by key.
TEST(MapWalkFallback, MapWithoutBatchOperationsIsWalkedKeyByKey) {
  MapFd m(BPF_MAP_TYPE_DEVMAP_HASH, sizeof(std::uint32_t), sizeof(std::uint32_t), 512);
  REQUIRE_MAP(m);
  constexpr std::uint32_t n = 300;
  const std::uint32_t loopback = 1;  // the value is an ifindex, and lo is 1 in every namespace
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t key = i * 3 + 7;
    ASSERT_EQ(bpf_map_update_elem(m.fd(), &key, &loopback, BPF_ANY), 0) << i;
  }
  std::uint32_t count = 4;
  std::uint32_t keys[4];
  std::uint32_t values[4];
  std::uint32_t cursor = 0;
  const int rc = bpf_map_lookup_batch(m.fd(), nullptr, &cursor, keys, values, &count, nullptr);
  ASSERT_TRUE(rc < 0 && rc != -ENOENT) << "this kernel has batch lookups for devmap hashes (" << rc
                                       << "): the fallback is not exercised here";
  std::set<std::uint32_t> seen;
  BpfMap(m.fd()).for_each_entry<std::uint32_t, std::uint32_t>([&](const std::uint32_t& k, const std::uint32_t& v) {
    EXPECT_TRUE(seen.insert(k).second) << "key " << k << " seen twice";
    EXPECT_EQ(v, loopback);
  });
  ASSERT_EQ(seen.size(), n);
  for (auto k : seen) EXPECT_EQ(k % 3, 1u) << k;
  EXPECT_EQ((BpfMap(m.fd()).entries<std::uint32_t, std::uint32_t>().size()), n);
}

// The metrics page counts pinned hash maps per scrape: by batches (count_entries) it must see
// what the key-by-key walk sees, and refuse a layout that is not the map's.
TEST(PinnedMapCount, BatchCountEqualsKeyWalkAndChecksTheLayout) {
  constexpr std::uint32_t n = 65536;  // the persist table's default size
  // Room to spare: an LRU map may evict before it holds max_entries (free lists per CPU).
  MapFd m(BPF_MAP_TYPE_LRU_HASH, sizeof(Key), sizeof(Value), 2 * n);
  REQUIRE_MAP(m);
  fill(m.fd(), n);
  const bpftest::BpfFsMount bpffs("map-count");  // its own bpffs, gone with the test
  const std::string pin = bpffs.path() + "/persist";
  ASSERT_EQ(bpf_obj_pin(m.fd(), pin.c_str()), 0) << pin << ": " << std::strerror(errno);

  const PinnedMap pinned(pin);
  ASSERT_TRUE(pinned.ok());
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto by_key = BpfMap(pinned.fd()).keys<Key>().size();
  const auto t1 = Clock::now();
  const auto by_batch = pinned.count_entries<Key, Value>();
  const auto t2 = Clock::now();
  EXPECT_EQ(by_key, n);
  EXPECT_EQ(by_batch, n);
  std::printf("count of %u entries: key by key %.1f ms, in batches %.1f ms\n", n,
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  EXPECT_THROW((pinned.count_entries<Key, Key>()), std::runtime_error);
  EXPECT_EQ((PinnedMap(bpffs.path() + "/absent").count_entries<Key, Value>()), 0u);
}


// Statistics are read as whole per-CPU arrays in batches (PerCpuValues): every entry and every
// CPU's copy must equal what a key-by-key read of the same map gives, for a read that ends
// inside the map, one that asks past its end, and one of more than a batch holds.
struct Stats {
  std::uint64_t packets;
  std::uint64_t bytes;
  std::uint64_t new_flows;
};

void fill_per_cpu(int fd, std::uint32_t n, std::size_t cpus) {
  for (std::uint32_t id = 0; id < n; ++id) {
    std::vector<Stats> values(cpus);
    for (std::size_t c = 0; c < cpus; ++c) values[c] = {id * 1000u + c, id * 7u + c * 13u, id ^ static_cast<std::uint32_t>(c)};
    ASSERT_EQ(bpf_map_update_elem(fd, &id, values.data(), BPF_ANY), 0) << id;
  }
}

void expect_as_key_by_key(const BpfMap& map, const PerCpuValues<Stats>& read, std::uint32_t count) {
  ASSERT_EQ(read.size(), std::min(count, map.max_entries()));
  for (std::uint32_t id = 0; id < read.size(); ++id) {
    const auto expected = map.lookup_per_cpu<std::uint32_t, Stats>(id);
    const auto got = read[id];
    ASSERT_EQ(got.size(), expected.size()) << id;
    for (std::size_t c = 0; c < got.size(); ++c) {
      EXPECT_EQ(got[c].packets, expected[c].packets) << id << "/" << c;
      EXPECT_EQ(got[c].bytes, expected[c].bytes) << id << "/" << c;
      EXPECT_EQ(got[c].new_flows, expected[c].new_flows) << id << "/" << c;
    }
  }
  EXPECT_TRUE(read[read.size()].empty());
}

TEST(PerCpuValuesRead, BatchesEqualKeyByKeyReads) {
  constexpr std::uint32_t max = 4096;  // real_stats' default size
  MapFd m(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(std::uint32_t), sizeof(Stats), max);
  REQUIRE_MAP(m);
  const auto cpus = static_cast<std::size_t>(BpfMap::possible_cpus());
  fill_per_cpu(m.fd(), 3000, cpus);  // the rest stays zero, as unused ids do
  const BpfMap map(m.fd());
  // The batch path itself must work here, or the comparison would only test the fallback.
  {
    std::uint32_t count = 8;
    std::uint32_t keys[8];
    std::vector<Stats> values(8 * cpus);
    std::uint32_t out = 0;
    ASSERT_EQ(bpf_map_lookup_batch(m.fd(), nullptr, &out, keys, values.data(), &count, nullptr), 0)
        << "no batch lookups for per-CPU arrays on this kernel";
    ASSERT_EQ(count, 8u);
  }
  for (std::uint32_t count : {1u, 1000u, 3001u, max, max + 100}) {
    SCOPED_TRACE(count);
    expect_as_key_by_key(map, PerCpuValues<Stats>(map, count), count);
  }
  EXPECT_EQ(PerCpuValues<Stats>(map, 0).size(), 0u);
  EXPECT_EQ(PerCpuValues<Stats>(map, 5)[4][cpus - 1].packets, 4000u + cpus - 1);
}

// A per-CPU hash answers batches in its own key order: the read keeps what came in order and
// takes the rest key by key, with the same values.
TEST(PerCpuValuesRead, OutOfOrderBatchFallsBackToKeyByKey) {
  MapFd m(BPF_MAP_TYPE_PERCPU_HASH, sizeof(std::uint32_t), sizeof(Stats), 512);
  REQUIRE_MAP(m);
  fill_per_cpu(m.fd(), 300, static_cast<std::size_t>(BpfMap::possible_cpus()));
  const BpfMap map(m.fd());
  expect_as_key_by_key(map, PerCpuValues<Stats>(map, 300), 300);
}

}  // namespace
}  // namespace xlb::dataplane
