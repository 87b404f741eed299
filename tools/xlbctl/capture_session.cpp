#include "tools/xlbctl/capture_session.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "ctrl/config/address.hpp"
#include "ctrl/dataplane/bpf_map.hpp"
#include "ctrl/dataplane/map_values.hpp"

namespace xlb::ctl {

namespace {

std::uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

config::IpAddr address_of(const std::string& text, const char* option) {
  const auto addr = config::IpAddr::parse(text);
  if (!addr) throw std::invalid_argument(std::string(option) + ": '" + text + "' is not an IPv4 or IPv6 address");
  return *addr;
}

void store(const config::IpAddr& addr, __u32* words) { std::memcpy(words, addr.bytes.data(), 16); }

__u8 family_of(const config::IpAddr& addr) { return addr.is_v4() ? XLB_FAMILY_V4 : XLB_FAMILY_V6; }

unsigned number_in(const std::string& text, unsigned max, const std::string& what) {
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value > max) {
    throw std::invalid_argument(what + ": '" + text + "' is not a number from 0 to " + std::to_string(max));
  }
  return static_cast<unsigned>(value);
}

// ADDR, ADDR:PORT, [V6ADDR]:PORT or a bare IPv6 address.
void parse_vip(const std::string& text, xlb_capture_config& cfg) {
  std::string addr = text;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) throw std::invalid_argument("--vip: '" + text + "' lacks the closing ]");
    addr = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') throw std::invalid_argument("--vip: '" + text + "': expected :PORT after ]");
      port = text.substr(close + 2);
    }
  } else if (text.find(':') != std::string::npos && text.find(':') == text.rfind(':')) {
    addr = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  const auto vip = address_of(addr, "--vip");
  store(vip, cfg.vip);
  cfg.vip_family = family_of(vip);
  if (!port.empty()) {
    const unsigned number = number_in(port, 65535, "--vip port");
    if (number == 0) throw std::invalid_argument("--vip: port 0 means every port; leave it out");
    cfg.vip_port = htons(static_cast<std::uint16_t>(number));
  }
}

void parse_client(const std::string& text, xlb_capture_config& cfg) {
  const auto slash = text.find('/');
  const auto client = address_of(text.substr(0, slash), "--client");
  const unsigned prefix = slash == std::string::npos ? client.max_prefix()
                                                     : number_in(text.substr(slash + 1), client.max_prefix(),
                                                                 "--client prefix length");
  std::uint8_t mask[16] = {};
  for (unsigned bit = 0; bit < prefix; ++bit) mask[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
  std::uint8_t masked[16] = {};
  for (int i = 0; i < 16; ++i) masked[i] = client.bytes[static_cast<std::size_t>(i)] & mask[i];
  std::memcpy(cfg.client, masked, 16);
  std::memcpy(cfg.client_mask, mask, 16);
  cfg.client_family = family_of(client);
}

__u32 parse_verdicts(const std::string& text) {
  __u32 verdicts = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string word = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (word == "forwarded") {
      verdicts |= XLB_CAPTURE_V_FORWARDED;
    } else if (word == "dropped") {
      verdicts |= XLB_CAPTURE_V_DROPPED;
    } else if (word == "passed") {
      verdicts |= XLB_CAPTURE_V_PASSED;
    } else if (word == "any") {
      verdicts |= XLB_CAPTURE_V_FORWARDED | XLB_CAPTURE_V_DROPPED | XLB_CAPTURE_V_PASSED;
    } else {
      throw std::invalid_argument("--verdict: '" + word + "' is none of forwarded, dropped, passed, any");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return verdicts;
}

UniqueFd open_pin(const std::filesystem::path& path) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    const int err = errno;
    std::string hint;
    if (err == EPERM || err == EACCES) hint = " (capturing needs root: CAP_BPF and CAP_SYS_ADMIN)";
    if (err == ENOENT) hint = " (is xlbd running with this --pin-dir, with an XDP build that captures?)";
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(err) + hint);
  }
  return UniqueFd(fd);
}

}  // namespace

int CaptureSession::on_record(void* session, void* data, std::size_t size) {
  const auto& self = *static_cast<const CaptureSession*>(session);
  if (size < sizeof(xlb_capture_record) || self.discarding_) return 0;
  xlb_capture_record header{};
  std::memcpy(&header, data, sizeof(header));
  const std::size_t caplen = std::min<std::size_t>(header.caplen, size - sizeof(header));
  self.sink_(header, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data) + sizeof(header), caplen));
  return 0;
}

std::uint64_t monotonic_now_ns() { return dataplane::monotonic_ns(); }

xlb_capture_config capture_config_from(const CaptureOptions& options) {
  xlb_capture_config cfg{};
  if (!options.vip.empty()) parse_vip(options.vip, cfg);
  if (!options.real.empty()) {
    const auto real = address_of(options.real, "--real");
    store(real, cfg.real);
    cfg.real_family = family_of(real);
  }
  if (!options.client.empty()) parse_client(options.client, cfg);
  cfg.verdicts = parse_verdicts(options.verdict);
  if (options.snaplen < 14 || options.snaplen > XLB_CAPTURE_SNAP_MAX) {
    throw std::invalid_argument("--snaplen: " + std::to_string(options.snaplen) + " is not from 14 (an Ethernet header) to " +
                                std::to_string(XLB_CAPTURE_SNAP_MAX));
  }
  cfg.snaplen = options.snaplen;
  if (!options.sample.empty()) {
    if (options.sample.rfind("1/", 0) != 0) throw std::invalid_argument("--sample: '" + options.sample + "' is not 1/N");
    cfg.sample = number_in(options.sample.substr(2), 1u << 30, "--sample N");
    if (cfg.sample == 0) throw std::invalid_argument("--sample: 1/0 keeps nothing");
  }
  return cfg;
}

CaptureSession::CaptureSession(const std::filesystem::path& pin_dir, xlb_capture_config config, CaptureSink sink,
                               std::chrono::milliseconds lease)
    : pin_dir_(pin_dir), config_(config), sink_(std::move(sink)), lease_(lease) {
  config_fd_ = open_pin(pin_dir / "capture");
  ring_fd_ = open_pin(pin_dir / "capture_ring");
  scratch_fd_ = open_pin(pin_dir / "capture_scratch");
  const dataplane::BpfMap config_map(config_fd_.get()), scratch(scratch_fd_.get());
  config_map.check_types<__u32, xlb_capture_config>();
  scratch.check_types<__u32, xlb_capture_scratch>();
  const __u32 zero = 0;
  const auto current = config_map.lookup<__u32, xlb_capture_config>(zero);
  const std::uint64_t now = monotonic_now_ns();
  if (current && current->enabled && current->expires_ns > now) {
    throw CaptureBusy("another capture is running (xlbctl pid " + std::to_string(current->owner >> 32) +
                      "); only one at a time: wait for it to end (its lease runs out " +
                      std::to_string((current->expires_ns - now) / 1'000'000) + " ms after it stops renewing)");
  }
  // Notes and counts start afresh: what an earlier capture left is not this one's.
  if (auto ec = scratch.update_per_cpu(zero, xlb_capture_scratch{}); ec) {
    throw std::system_error(ec, "resetting capture_scratch");
  }
  std::random_device random;
  config_.owner = static_cast<__u64>(::getpid()) << 32 | random();
  config_.enabled = 1;
  ring_.reset(ring_buffer__new(ring_fd_.get(), on_record, this, nullptr));
  if (!ring_) throw std::runtime_error(std::string("reading capture_ring: ") + std::strerror(errno));
  // What an earlier capture left unread is not this one's.
  discarding_ = true;
  ring_buffer__consume(ring_.get());
  discarding_ = false;
  realtime_offset_ns_ = static_cast<std::int64_t>(realtime_ns()) -
                        static_cast<std::int64_t>(monotonic_now_ns());
  write_config();
}

CaptureSession::~CaptureSession() {
  try {
    stop();
  } catch (...) {  // the lease ends it anyway
  }
}

void CaptureSession::RingFree::operator()(ring_buffer* ring) const { ring_buffer__free(ring); }

void CaptureSession::write_config() {
  config_.expires_ns = monotonic_now_ns() + static_cast<std::uint64_t>(
                                                std::chrono::duration_cast<std::chrono::nanoseconds>(lease_).count());
  const __u32 zero = 0;
  if (auto ec = dataplane::BpfMap(config_fd_.get()).update(zero, config_); ec) {
    throw std::system_error(ec, "writing the capture settings");
  }
  renewed_ = std::chrono::steady_clock::now();
}

std::optional<std::string> CaptureSession::poll(std::chrono::milliseconds timeout) {
  if (stopped_) return std::string("capture stopped");
  const int rc = ring_buffer__poll(ring_.get(), static_cast<int>(timeout.count()));
  if (rc < 0 && rc != -EINTR) return std::string("reading capture_ring: ") + std::strerror(-rc);
  if (std::chrono::steady_clock::now() - renewed_ < lease_ / 3) return std::nullopt;
  const __u32 zero = 0;
  const auto current = dataplane::BpfMap(config_fd_.get()).lookup<__u32, xlb_capture_config>(zero);
  if (!current || current->owner != config_.owner) {
    stopped_ = true;
    return std::string("capture was switched off by someone else (an xlbd start, or another capture)");
  }
  if (!current->enabled) {
    stopped_ = true;
    return std::string("capture was switched off: the lease ran out before it was renewed");
  }
  write_config();
  return std::nullopt;
}

void CaptureSession::drain() { ring_buffer__consume(ring_.get()); }

xlb_capture_counts CaptureSession::counts() const {
  xlb_capture_counts sum{};
  const __u32 zero = 0;
  for (const auto& cpu : dataplane::BpfMap(scratch_fd_.get()).lookup_per_cpu<__u32, xlb_capture_scratch>(zero)) {
    sum.recorded += cpu.counts.recorded;
    sum.filtered += cpu.counts.filtered;
    sum.sampled += cpu.counts.sampled;
    sum.lost += cpu.counts.lost;
  }
  return sum;
}

void CaptureSession::stop() {
  if (stopped_) return;
  stopped_ = true;
  const __u32 zero = 0;
  const dataplane::BpfMap config_map(config_fd_.get());
  const auto current = config_map.lookup<__u32, xlb_capture_config>(zero);
  if (current && current->owner == config_.owner) {
    if (auto ec = config_map.update(zero, xlb_capture_config{}); ec) {
      throw std::system_error(ec, "switching capture off");
    }
  }
}

}  // namespace xlb::ctl
