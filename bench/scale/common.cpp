#include "bench/scale/common.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

namespace xlb::bench::scale {

namespace {

std::string type_name(const std::string& number) {
  static const std::map<std::string, std::string> names{
      {"1", "hash"}, {"2", "array"}, {"5", "percpu_hash"}, {"6", "percpu_array"}, {"9", "lru_hash"},
      {"10", "lru_percpu_hash"}, {"14", "devmap"}, {"25", "devmap_hash"}};
  const auto it = names.find(number);
  return it == names.end() ? number : it->second;
}

}  // namespace

MapMemory map_memory(int map_fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(map_fd));
  if (!in) throw std::system_error(errno, std::generic_category(), "fdinfo of map fd " + std::to_string(map_fd));
  MapMemory m;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (key == "map_type") m.type = type_name(value);
    if (key == "max_entries") m.max_entries = std::stoull(value);
    if (key == "key_size") m.key_size = std::stoull(value);
    if (key == "value_size") m.value_size = std::stoull(value);
    if (key == "memlock") m.memlock = std::stoull(value);
  }
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (!m.type.empty() && bpf_obj_get_info_by_fd(map_fd, &info, &len) == 0) m.name = info.name;
  return m;
}

std::vector<MapMemory> pinned_map_memory(const std::filesystem::path& pin_dir) {
  std::vector<MapMemory> out;
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir)) {
    if (!entry.is_regular_file()) continue;
    const int fd = bpf_obj_get(entry.path().c_str());
    if (fd < 0) continue;
    auto m = map_memory(fd);
    close(fd);
    if (!m.type.empty()) out.push_back(std::move(m));  // a pinned program has no map_type
  }
  return out;
}

std::uint64_t total_memlock(const std::vector<MapMemory>& maps) {
  std::uint64_t total = 0;
  for (const auto& m : maps) total += m.memlock;
  return total;
}

Json to_json(const std::vector<MapMemory>& maps) {
  Json per = Json::object();
  for (const auto& m : maps) {
    per[m.name] = {{"type", m.type},          {"max_entries", m.max_entries}, {"key_size", m.key_size},
                   {"value_size", m.value_size}, {"memlock_bytes", m.memlock}};
  }
  return {{"maps", per}, {"total_memlock_bytes", total_memlock(maps)}};
}

OnCpu::OnCpu(int cpu) {
  cpu_set_t old;
  CPU_ZERO(&old);
  if (sched_getaffinity(0, sizeof(old), &old) != 0) throw std::system_error(errno, std::generic_category(), "affinity");
  saved_.assign(reinterpret_cast<std::uint8_t*>(&old), reinterpret_cast<std::uint8_t*>(&old) + sizeof(old));
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof(one), &one) != 0) {
    throw std::system_error(errno, std::generic_category(), "run on CPU " + std::to_string(cpu));
  }
}

OnCpu::~OnCpu() {
  cpu_set_t old;
  std::memcpy(&old, saved_.data(), sizeof(old));
  sched_setaffinity(0, sizeof(old), &old);
}

int possible_cpus() {
  const int n = libbpf_num_possible_cpus();
  if (n <= 0) throw std::runtime_error("cannot count possible CPUs");
  return n;
}

}  // namespace xlb::bench::scale
