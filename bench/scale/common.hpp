// Shared by the scale benchmark's parts: what the kernel says a map costs in memory, a clock,
// and pinning the calling thread to a CPU.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xlb::bench::scale {

using Json = nlohmann::json;

// One map as /proc/self/fdinfo reports it; memlock is the kernel's own accounting of the
// map's memory (map_mem_usage since Linux 6.4).
struct MapMemory {
  std::string name;
  std::string type;  // numeric map_type as the kernel prints it, spelled out where known
  std::uint64_t max_entries = 0;
  std::uint64_t key_size = 0;
  std::uint64_t value_size = 0;
  std::uint64_t memlock = 0;
};

MapMemory map_memory(int map_fd);
// Every map pinned directly under `pin_dir` (opened by path, so xlbd's maps as well).
std::vector<MapMemory> pinned_map_memory(const std::filesystem::path& pin_dir);
Json to_json(const std::vector<MapMemory>& maps);  // per map and the total
std::uint64_t total_memlock(const std::vector<MapMemory>& maps);

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Runs the calling thread on `cpu` only while it lives; the previous set comes back after.
class OnCpu {
 public:
  explicit OnCpu(int cpu);
  ~OnCpu();
  OnCpu(const OnCpu&) = delete;
  OnCpu& operator=(const OnCpu&) = delete;

 private:
  std::vector<std::uint8_t> saved_;
};

int possible_cpus();

}  // namespace xlb::bench::scale
