// The reading end of the XDP program's capture (bpf/capture.h): switches capture on with a
// lease, reads the records from the ring, renews the lease while it reads, and switches
// capture off when it ends. Only this process's lifetime keeps a capture on: killed (SIGKILL
// too), it stops renewing and the program switches itself off once the lease runs out.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "xlb/unique_fd.hpp"
#include "xlb/xlb_abi.h"

struct ring_buffer;

namespace xlb::ctl {

// What `--vip`, `--real`, `--client`, `--verdict`, `--snaplen` and `--sample` say, checked.
struct CaptureOptions {
  std::string vip;          // ADDR or ADDR:PORT ([ADDR]:PORT for IPv6); empty = any
  std::string real;         // ADDR; empty = any
  std::string client;       // ADDR or ADDR/LEN; empty = any
  std::string verdict = "forwarded,dropped";  // forwarded|dropped|passed|any, comma-separated
  std::uint32_t snaplen = 256;
  std::string sample;       // 1/N; empty = every packet
};

// The program's filter for `options`, or std::invalid_argument saying which option is wrong.
xlb_capture_config capture_config_from(const CaptureOptions& options);

// Another live capture holds the program's capture.
class CaptureBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using CaptureSink = std::function<void(const xlb_capture_record&, std::span<const std::uint8_t> frame)>;

class CaptureSession {
 public:
  // Opens the pins under pin_dir and switches capture on with `config` (its lease and owner are
  // set here). Throws CaptureBusy while another process's lease runs, std::runtime_error when
  // the pins cannot be opened (no xlbd loaded them, or no privilege to open them).
  CaptureSession(const std::filesystem::path& pin_dir, xlb_capture_config config, CaptureSink sink,
                 std::chrono::milliseconds lease = std::chrono::seconds(3));
  ~CaptureSession();  // switches capture off, unless another owner has it now
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Hands records to the sink for up to `timeout`, renewing the lease when a third of it is
  // left. Returns the reason when capture was switched off under it (an xlbd start, another
  // capture's takeover, an expired lease), std::nullopt while it runs.
  std::optional<std::string> poll(std::chrono::milliseconds timeout);
  // Records still in the ring, without waiting.
  void drain();
  // What the program counted since this capture began (summed over CPUs).
  xlb_capture_counts counts() const;
  // CLOCK_REALTIME minus CLOCK_MONOTONIC at the start, in ns: record times to wall clock.
  std::int64_t realtime_offset_ns() const { return realtime_offset_ns_; }
  void stop();  // switches capture off now (idempotent)

 private:
  void write_config();
  static int on_record(void* session, void* data, std::size_t size);  // libbpf's ring callback
  std::filesystem::path pin_dir_;
  xlb_capture_config config_;
  CaptureSink sink_;
  std::chrono::milliseconds lease_;
  std::chrono::steady_clock::time_point renewed_;
  struct RingFree {
    void operator()(ring_buffer* ring) const;
  };
  UniqueFd config_fd_, ring_fd_, scratch_fd_;
  std::unique_ptr<ring_buffer, RingFree> ring_;  // declared after the descriptors: freed before they close
  bool stopped_ = false;
  bool discarding_ = false;
  std::int64_t realtime_offset_ns_ = 0;
};

// CLOCK_MONOTONIC now, in ns (the clock of bpf_ktime_get_ns and of the lease).
std::uint64_t monotonic_now_ns();

}  // namespace xlb::ctl
