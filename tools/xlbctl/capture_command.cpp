#include "tools/xlbctl/capture_command.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "tools/xlbctl/pcapng.hpp"
#include "tools/xlbctl/verdict_text.hpp"

namespace xlb::ctl {

namespace {

std::atomic<bool> interrupted{false};

void on_signal(int) { interrupted = true; }

// SIGINT and SIGTERM end the capture as its count would; SIGPIPE (a reader that went away)
// shows as a failed write. SIGKILL cannot be caught: the lease ends that capture.
void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Reads the session until the run's count or duration, or a signal, or `done` says so.
template <class Done>
std::optional<std::string> read_until(CaptureSession& session, const CaptureRun& run, Done done) {
  const auto start = std::chrono::steady_clock::now();
  while (!interrupted && !done()) {
    if (run.duration > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= run.duration) {
      break;
    }
    if (auto why = session.poll(std::chrono::milliseconds(100)); why) return why;
  }
  return std::nullopt;
}

// Said once the program copies: a script (or a test) starts its traffic after this line.
void started(const CaptureRun& run) {
  std::cerr << "xlbctl: capturing (pins " << run.pin_dir << "); ends after "
            << (run.count ? std::to_string(run.count) + " packets" : std::string("no count")) << " or "
            << (run.duration > 0 ? std::to_string(run.duration) + " s" : std::string("no time limit"))
            << "; the program stops copying within 3 s of this process's end, however it ends" << std::endl;
}

void report(const CaptureSession& session, std::uint64_t written, const std::optional<std::string>& why) {
  const auto c = session.counts();
  std::cerr << "xlbctl: " << written << " packets written; the program recorded " << c.recorded << ", kept out "
            << c.filtered << " by the filters, skipped " << c.sampled << " by --sample, and lost " << c.lost
            << (c.lost ? " (the ring was full: narrow the filters, or --sample)" : "") << "\n";
  if (why) std::cerr << "xlbctl: " << *why << "\n";
}

// The common end of capture and trace: read until done, then what is left, then the counts;
// exit status 1 when capture was switched off under the command.
int read_and_report(CaptureSession& session, const CaptureRun& run, const std::uint64_t& written) {
  started(run);
  auto why = read_until(session, run, [&] { return run.count && written >= run.count; });
  session.drain();
  session.stop();
  report(session, written, why);
  return why ? 1 : 0;
}

}  // namespace

int run_capture(const CaptureRun& run, const std::string& write_to, bool arrived) {
  std::ofstream file;
  if (write_to != "-") {
    file.open(write_to, std::ios::binary | std::ios::trunc);
    if (!file) throw std::runtime_error("cannot write " + write_to);
  }
  std::ostream& out = write_to == "-" ? std::cout : file;
  const xlb_capture_config config = capture_config_from(run.filter);
  DataplaneNames names(run.pin_dir, run.services);
  PcapngWriter pcap(out);
  const std::uint32_t left = pcap.add_interface("xlb-out", "frames as the XDP program let them go (after the DR rewrite)",
                                                config.snaplen);
  const std::uint32_t came = arrived ? pcap.add_interface("xlb-in", "frames as they arrived", config.snaplen) : 0;
  std::uint64_t written = 0;
  std::int64_t offset = 0;
  std::vector<std::uint8_t> as_arrived;
  catch_stop_signals();
  CaptureSession session(
      run.pin_dir, config,
      [&](const xlb_capture_record& r, std::span<const std::uint8_t> frame) {
        if (run.count && written >= run.count) return;
        const std::uint64_t when = r.time_ns + static_cast<std::uint64_t>(offset);
        const std::string comment = verdict_text(r, frame, &names);
        const bool rewritten = std::memcmp(r.arrived_macs, frame.data(), sizeof(r.arrived_macs)) != 0;
        if (arrived && rewritten) {
          as_arrived.assign(frame.begin(), frame.end());
          std::copy(std::begin(r.arrived_macs), std::end(r.arrived_macs), as_arrived.begin());
          pcap.packet(came, when, as_arrived, r.len, "arrived; " + comment);
        }
        pcap.packet(left, when, frame, r.len, comment);
        if (!out) interrupted = true;  // the reader went away
        ++written;
      });
  offset = session.realtime_offset_ns();
  return read_and_report(session, run, written);
}

int run_trace(CaptureRun run, const std::string& client) {
  // CLIENT[:PORT]: the program filters by address; the port is matched here.
  std::string addr = client;
  std::uint16_t port = 0;
  const auto colon = client.rfind(':');
  const bool bracketed = !client.empty() && client.front() == '[';
  if (bracketed || (colon != std::string::npos && client.find(':') == colon)) {
    const auto close = client.find(']');
    addr = bracketed ? client.substr(1, close - 1) : client.substr(0, colon);
    const std::string digits = bracketed ? (close + 1 < client.size() ? client.substr(close + 2) : "")
                                         : client.substr(colon + 1);
    if (!digits.empty()) port = static_cast<std::uint16_t>(std::stoul(digits));
  }
  run.filter.client = addr;
  DataplaneNames names(run.pin_dir, run.services);
  std::uint64_t written = 0;
  catch_stop_signals();
  CaptureSession session(run.pin_dir, capture_config_from(run.filter),
                         [&](const xlb_capture_record& r, std::span<const std::uint8_t> frame) {
                           if (run.count && written >= run.count) return;
                           // The client's port: in a tunnel forward, the packet inside's.
                           const auto sent = client_frame(r, frame);
                           if (port != 0 && sent.size() >= 38) {
                             // The source port follows the IPv4 header (its IHL) or the IPv6 one.
                             const bool v6 = sent[12] == 0x86 && sent[13] == 0xdd;
                             const std::size_t l4 = v6 ? 54 : 14 + (sent[14] & 0xfu) * 4;
                             if (sent.size() < l4 + 2 || (sent[l4] << 8 | sent[l4 + 1]) != port) return;
                           }
                           std::cout << describe(r, frame, &names) << std::endl;
                           ++written;
                         });
  return read_and_report(session, run, written);
}

}  // namespace xlb::ctl
