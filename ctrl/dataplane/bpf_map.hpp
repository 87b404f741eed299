// A typed view of one map of the loaded XDP program. The fd belongs to the bpf_object (or to
// the pin it reused); this class only adds type checks and error codes.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace xlb::dataplane {

class BpfMap {
 public:
  BpfMap() = default;
  explicit BpfMap(const bpf_map* map)
      : fd_(bpf_map__fd(map)),
        name_(bpf_map__name(map)),
        key_size_(bpf_map__key_size(map)),
        value_size_(bpf_map__value_size(map)),
        max_entries_(bpf_map__max_entries(map)),
        per_cpu_(is_per_cpu(bpf_map__type(map))) {}
  // A map known only by its fd, as the kernel describes it; the fd must outlive this view.
  explicit BpfMap(int fd) : fd_(fd) {
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (const int rc = bpf_obj_get_info_by_fd(fd, &info, &len); rc != 0) {
      throw std::system_error(-rc, std::generic_category(), "bpf_obj_get_info_by_fd");
    }
    name_ = info.name;
    key_size_ = info.key_size;
    value_size_ = info.value_size;
    max_entries_ = info.max_entries;
    per_cpu_ = is_per_cpu(static_cast<bpf_map_type>(info.type));
  }

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  std::uint32_t key_size() const { return key_size_; }
  std::uint32_t value_size() const { return value_size_; }
  std::uint32_t max_entries() const { return max_entries_; }
  bool per_cpu() const { return per_cpu_; }

  // Throws when the C++ types do not match the loaded map: the ABI header and the object
  // disagree, and every later read or write would be garbage.
  template <class K, class V>
  void check_types() const {
    if (key_size_ != sizeof(K) || value_size_ != sizeof(V)) {
      throw std::runtime_error("map " + name_ + ": key/value size " + std::to_string(key_size_) + "/" +
                               std::to_string(value_size_) + " in the BPF object, " + std::to_string(sizeof(K)) +
                               "/" + std::to_string(sizeof(V)) + " in xlb_abi.h as compiled into xlbd");
    }
  }

  template <class K, class V>
  std::error_code update(const K& key, const V& value, std::uint64_t flags = BPF_ANY) const {
    return result(bpf_map_update_elem(fd_, &key, &value, flags));
  }

  template <class K>
  std::error_code erase(const K& key) const {
    return result(bpf_map_delete_elem(fd_, &key));
  }

  template <class K, class V>
  std::optional<V> lookup(const K& key) const {
    V value{};
    if (bpf_map_lookup_elem(fd_, &key, &value) != 0) return std::nullopt;
    return value;
  }

  // One value per possible CPU (per-CPU maps round each value up to 8 bytes).
  template <class K, class V>
  std::vector<V> lookup_per_cpu(const K& key) const {
    static_assert(sizeof(V) % 8 == 0, "per-CPU values are 8-byte aligned");
    std::vector<V> values(static_cast<std::size_t>(possible_cpus()));
    if (bpf_map_lookup_elem(fd_, &key, values.data()) != 0) return {};
    return values;
  }

  // Same value on every CPU (used to reset per-CPU slots of a recycled id).
  template <class K, class V>
  std::error_code update_per_cpu(const K& key, const V& value) const {
    std::vector<V> values(static_cast<std::size_t>(possible_cpus()), value);
    return result(bpf_map_update_elem(fd_, &key, values.data(), BPF_ANY));
  }

  // Every key, by get_next_key (works on every map type; hash maps may skip or repeat keys
  // that are inserted or deleted concurrently, which callers tolerate).
  template <class K>
  std::vector<K> keys() const {
    std::vector<K> out;
    K key{};
    K next{};
    bool first = true;
    while (bpf_map_get_next_key(fd_, first ? nullptr : &key, &next) == 0) {
      out.push_back(next);
      key = next;
      first = false;
    }
    return out;
  }

  // Calls fn(key, value) for every entry of a hash map, read in batches, so that a walk of a
  // million entries needs neither a copy of the table nor a syscall per entry. Falls back to
  // key-by-key reads on kernels or map types without batch support. Entries inserted or
  // deleted meanwhile may be missed or seen twice, as with keys().
  template <class K, class V, class Fn>
  void for_each_entry(Fn&& fn) const {
    std::uint32_t chunk = kBatchEntries;
    std::vector<K> keys(chunk);
    std::vector<V> values(chunk);
    alignas(8) unsigned char batch_in[sizeof(K) + 8] = {};
    alignas(8) unsigned char batch_out[sizeof(K) + 8] = {};
    bool first = true;
    for (;;) {
      std::uint32_t count = chunk;
      const int rc = bpf_map_lookup_batch(fd_, first ? nullptr : batch_in, batch_out, keys.data(), values.data(),
                                          &count, nullptr);
      const int err = rc < 0 ? -rc : 0;
      if (rc != 0 && err != ENOENT) {
        if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == kKernelENOTSUPP)) {
          for_each_entry_slowly<K, V>(fn);
          return;
        }
        if (err == ENOSPC) {  // a bucket larger than the chunk: grow and retry
          chunk *= 2;
          keys.resize(chunk);
          values.resize(chunk);
          continue;
        }
        break;
      }
      for (std::uint32_t i = 0; i < count; ++i) fn(std::as_const(keys[i]), std::as_const(values[i]));
      if (err == ENOENT) break;
      std::memcpy(batch_in, batch_out, sizeof(batch_in));
      first = false;
    }
  }

  // Entries, counted over the same batches; throws when the map's sizes are not K and V.
  template <class K, class V>
  std::uint64_t count() const {
    check_types<K, V>();
    std::uint64_t n = 0;
    for_each_entry<K, V>([&n](const K&, const V&) { ++n; });
    return n;
  }

  // Every (key, value) of a hash map (a copy: prefer for_each_entry for large tables).
  template <class K, class V>
  std::vector<std::pair<K, V>> entries() const {
    std::vector<std::pair<K, V>> out;
    for_each_entry<K, V>([&](const K& k, const V& v) { out.emplace_back(k, v); });
    return out;
  }

  template <class K>
  std::size_t erase_all(const std::vector<K>& keys) const {
    std::size_t erased = 0;
    for (const auto& k : keys) {
      if (bpf_map_delete_elem(fd_, &k) == 0) ++erased;
    }
    return erased;
  }

  static int possible_cpus() {
    const int n = libbpf_num_possible_cpus();
    if (n <= 0) throw std::system_error(-n, std::generic_category(), "libbpf_num_possible_cpus");
    return n;
  }

 private:
  // Entries per lookup_batch call (64 KiB of buffers for the flows map).
  static constexpr std::uint32_t kBatchEntries = 1024;
  // What the kernel returns for a map type without batch operations (LPM trie, ...): its
  // internal ENOTSUPP, which has no name in user space.
  static constexpr int kKernelENOTSUPP = 524;

  template <class K, class V, class Fn>
  void for_each_entry_slowly(Fn& fn) const {
    K key{};
    K next{};
    bool first = true;
    while (bpf_map_get_next_key(fd_, first ? nullptr : &key, &next) == 0) {
      if (auto v = lookup<K, V>(next)) fn(std::as_const(next), std::as_const(*v));
      key = next;
      first = false;
    }
  }

  static bool is_per_cpu(bpf_map_type type) {
    return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
           type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
  }
  static std::error_code result(int rc) {
    if (rc == 0) return {};
    return {rc < 0 ? -rc : errno, std::generic_category()};
  }

  int fd_ = -1;
  std::string name_;
  std::uint32_t key_size_ = 0;
  std::uint32_t value_size_ = 0;
  std::uint32_t max_entries_ = 0;
  bool per_cpu_ = false;
};

}  // namespace xlb::dataplane
