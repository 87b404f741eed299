// Runs the live-frames generator: one pinned thread per CPU, each calling BPF_PROG_TEST_RUN in
// chunks; the caller's thread prints the per-second line and collects the summary.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpf_handles.hpp"
#include "options.hpp"

namespace xlb::pktgen {

class Generator {
 public:
  // Loads the XDP program and attaches the sink; throws on any failure.
  explicit Generator(Options options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Sends until the duration or count is reached, or SIGINT/SIGTERM; returns the summary.
  // Must be called with SIGINT and SIGTERM blocked in every thread (see block_stop_signals).
  nlohmann::json run();

  // Blocks the signals run() waits for and installs the SIGUSR1 handler that interrupts
  // workers; call before any thread exists.
  static void block_stop_signals();

 private:
  struct alignas(64) WorkerStats {
    std::atomic<std::uint64_t> packets{0};
    std::atomic<int> error{0};  // errno of a failed BPF_PROG_TEST_RUN; the worker then stops
    std::atomic<bool> done{false};
  };
  struct SinkTotals {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
  };

  void worker(std::size_t index, std::uint64_t quota, std::uint64_t deadline_ns);
  void init_state();
  SinkTotals read_sink() const;
  struct ProgramTotals {
    std::uint64_t generated = 0;  // frames the XDP program built and sent with XDP_TX
    std::uint64_t syn = 0;        // of which TCP SYN
  };
  ProgramTotals program_totals() const;
  std::vector<std::uint64_t> generated_per_cpu() const;  // indexed by CPU

  static constexpr std::uint64_t kLongCall = 1'000'000'000;  // frames per call when nothing limits it

  Options options_;
  int ifindex_ = 0;
  MacAddress src_mac_{};
  std::vector<std::uint8_t> frame_;
  SkeletonPtr skeleton_;
  LinkPtr sink_link_;
  int prog_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<WorkerStats>> stats_;
};

}  // namespace xlb::pktgen
