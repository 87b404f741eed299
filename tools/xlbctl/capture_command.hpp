// `xlbctl capture` and `xlbctl trace`: a CaptureSession read until a count, a duration or a
// signal ends it, written as pcapng or as one line per packet; what the program counted
// (kept out, sampled out, lost) is reported on stderr at the end.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/xlbctl/capture_session.hpp"

namespace xlb::ctl {

struct CaptureRun {
  std::string pin_dir;
  CaptureOptions filter;
  std::uint64_t count = 0;  // stop after this many packets written; 0 = no limit
  double duration = 0;      // seconds; 0 = no limit
  nlohmann::json services;  // xlbd's `list`, for weights (null when xlbd did not answer)
};

// -w FILE or -w - (standard output); `arrived`: also each forwarded frame as it arrived.
int run_capture(const CaptureRun& run, const std::string& write_to, bool arrived);

// CLIENT or CLIENT:PORT ([V6]:PORT); lines on standard output.
int run_trace(CaptureRun run, const std::string& client);

}  // namespace xlb::ctl
