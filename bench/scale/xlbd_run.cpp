#include "bench/scale/xlbd_run.hpp"

#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/scale/child_process.hpp"
#include "bench/scale/flow_fill.hpp"
#include "ctrl/dataplane/pinned_map.hpp"
#include "bench/scale/scenario_model.hpp"
#include "ctrl/api/control_server.hpp"
#include "ctrl/dataplane/map_codec.hpp"
#include "ctrl/dataplane/ring_codec.hpp"

namespace xlb::bench::scale {

namespace dp = xlb::dataplane;
using Clock = std::chrono::steady_clock;

namespace {

// An fd of a pinned object, closed on destruction.
std::optional<xlb_vip_info> vip_entry(const std::filesystem::path& pin_dir, const dp::ServiceKey& key) {
  dp::PinnedMap vips(pin_dir / "vips");
  if (!vips) return std::nullopt;
  const auto k = dp::to_vip_key(key);
  xlb_vip_info info{};
  if (bpf_map_lookup_elem(vips.fd(), &k, &info) != 0) return std::nullopt;
  return info;
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// xlbd --detach-on-exit removes its pin directory on the way out.
void clear_pins(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(dir)) std::filesystem::remove_all(e.path());
}

bool answers_status(const std::string& socket) {
  try {
    return api::control_request(socket, "status", Json::object()).value("ok", false);
  } catch (const std::exception&) {
    return false;
  }
}

struct StartError : std::runtime_error {
  StartError(const std::string& what, std::string log) : std::runtime_error(what), log_excerpt(std::move(log)) {}
  std::string log_excerpt;
};

// The first `n` distinct error lines of a log, timestamps cut.
std::string first_errors(const std::filesystem::path& log, std::size_t n) {
  std::ifstream in(log);
  std::string line, out;
  std::size_t found = 0;
  while (found < n && std::getline(in, line)) {
    const auto at = line.find("error: ");
    if (at == std::string::npos) continue;
    out += line.substr(at) + "\n";
    ++found;
  }
  return out;
}

class Xlbd {
 public:
  // detach: --detach-on-exit (program and pins go with xlbd); otherwise both stay, as for a
  // restart.
  Xlbd(const XlbdOptions& o, const std::filesystem::path& conf, bool detach = true)
      : socket_((o.workdir / "xlbd.sock").string()), log_(o.workdir / "xlbd.log") {
    std::filesystem::remove(socket_);
    t0_ = Clock::now();
    std::vector<std::string> argv{o.xlbd.string(), "-f",        conf.string(), "--interface", o.interface,
                                  "--pin-dir",     o.pin_dir.string(), "--socket",    socket_};
    if (detach) argv.push_back("--detach-on-exit");
    child_.emplace(argv, log_);
  }

  // Waits until the vips map holds `services` entries and the socket answers; both times
  // are from the exec. Throws when xlbd exits first, when it is not ready in time, and when
  // it answers but its maps stop growing short of `services` (it refused some services).
  void wait_ready(const std::filesystem::path& pin_dir, std::size_t services, double timeout_s) {
    std::uint64_t count = 0;
    auto grew = Clock::now();
    while (!maps_ms_ || !status_ms_) {
      if (child_->exited()) throw StartError("xlbd exited during start", tail_of(log_, 8));
      if (ms_since(t0_) > timeout_s * 1000) throw StartError("xlbd not ready in time", tail_of(log_, 8));
      if (!maps_ms_) {
        dp::PinnedMap vips(pin_dir / "vips");
        const auto now = vips.count_entries<xlb_vip_key, xlb_vip_info>();
        if (now != count) count = now, grew = Clock::now();
        if (count >= services) maps_ms_ = ms_since(t0_);
      }
      if (!status_ms_ && std::filesystem::exists(socket_) && answers_status(socket_)) status_ms_ = ms_since(t0_);
      if (status_ms_ && !maps_ms_ && ms_since(grew) > 3000) {
        throw StartError("xlbd answers, but only " + std::to_string(count) + " of " + std::to_string(services) +
                             " services reached the maps",
                         first_errors(log_, 3));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  bool answered() const { return status_ms_.has_value(); }
  double maps_ms() const { return *maps_ms_; }
  double status_ms() const { return *status_ms_; }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return child_->pid(); }
  int stop() { return child_->stop(); }

 private:
  std::string socket_;
  std::filesystem::path log_;
  Clock::time_point t0_;
  std::optional<ChildProcess> child_;
  std::optional<double> maps_ms_, status_ms_;
};

struct ChangeTiming {
  double reply_ms = 0;  // the control request's reply
  double maps_ms = 0;   // the vips entry switched to the new ring half
};

// Sends `request` and watches the service's vips entry until it points at the other ring
// half; the watcher runs beside the request so that the map's own switch time is measured.
template <class Request>
ChangeTiming timed_change(const std::filesystem::path& pin_dir, const dp::ServiceKey& key, Request&& request) {
  const auto before = vip_entry(pin_dir, key);
  if (!before) throw std::runtime_error("the changed service is not in the vips map");
  std::atomic<bool> stop{false};
  std::optional<double> switched;
  const auto t0 = Clock::now();
  std::thread watcher([&] {
    dp::PinnedMap vips(pin_dir / "vips");
    const auto k = dp::to_vip_key(key);
    while (!stop) {
      xlb_vip_info info{};
      if (bpf_map_lookup_elem(vips.fd(), &k, &info) == 0 && info.ring_slot != before->ring_slot) {
        switched = ms_since(t0);
        return;
      }
      if (ms_since(t0) > 60000) return;
    }
  });
  double reply = 0;
  try {
    request();
    reply = ms_since(t0);
  } catch (...) {
    stop = true;
    watcher.join();
    throw;
  }
  watcher.join();
  if (!switched) throw std::runtime_error("the vips entry never switched ring halves");
  return {reply, *switched};
}

void ok_or_throw(const Json& reply) {
  if (!reply.value("ok", false)) throw std::runtime_error(reply.value("error", std::string("request failed")));
}

double best_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

std::vector<std::uint32_t> live_ring_ids(const std::filesystem::path& pin_dir, const xlb_vip_info& info) {
  dp::PinnedMap settings(pin_dir / "settings");
  dp::PinnedMap ring(pin_dir / "ring");
  xlb_settings s{};
  const std::uint32_t zero = 0;
  if (!settings || !ring || bpf_map_lookup_elem(settings.fd(), &zero, &s) != 0) throw std::runtime_error("settings map");
  std::vector<std::uint32_t> ids;
  for (const auto id : dp::RingLayout(s.ring_size).read_half(ring.fd(), info.vip_id, info.ring_slot, info.ring_len)) {
    if (id != 0) ids.push_back(id);
  }
  return ids;
}

}  // namespace

Json run_xlbd(const XlbdOptions& o) {
  auto services = scenario_services(o.scenario, o.vips, o.reals_per_vip, o.reals);
  const auto conf = write_keepalived_conf(o.workdir, services, 1000, o.flows);
  const auto& changed = services.back();
  const std::string real = changed.reals.front().address.to_string() + ":" + std::to_string(changed.reals.front().port);

  std::uintmax_t config_bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.workdir)) {
    if (e.path().extension() == ".conf") config_bytes += e.file_size();
  }
  Json out{{"scenario", o.scenario}, {"services", services.size()}, {"config_bytes", config_bytes}};
  std::size_t reals_total = 0;
  for (const auto& s : services) reals_total += s.reals.size();
  out["reals_total"] = reals_total;

  std::vector<double> maps_ms, status_ms, weight_reply, weight_maps, reload_reply, reload_maps, xlbctl_reply,
      xlbctl_maps;
  for (int round = 0; round < o.rounds; ++round) {
    clear_pins(o.pin_dir);
    write_keepalived_conf(o.workdir, services, 1000, o.flows);
    Xlbd xlbd(o, conf);
    try {
      xlbd.wait_ready(o.pin_dir, services.size(), o.start_timeout_s);
    } catch (const StartError& e) {
      out["error"] = e.what();
      out["log_excerpt"] = e.log_excerpt;
      if (xlbd.answered()) out["start_to_status_ms"] = std::vector<double>{xlbd.status_ms()};
      return out;
    }
    maps_ms.push_back(xlbd.maps_ms());
    status_ms.push_back(xlbd.status_ms());
    if (round == 0) {
      out["memory"] = to_json(pinned_map_memory(o.pin_dir));
      out["xlbd_rss_kib"] = rss_kib(xlbd.pid());
    }
    const std::uint32_t w = 2 + static_cast<std::uint32_t>(round);
    const auto wt = timed_change(o.pin_dir, changed.key, [&] {
      ok_or_throw(api::control_request(xlbd.socket(), "weight", Json{{"real", real}, {"weight", w}}));
    });
    weight_reply.push_back(wt.reply_ms);
    weight_maps.push_back(wt.maps_ms);
    // A reload whose only difference is one real's weight (the override above is dropped
    // first so that the file decides again).
    ok_or_throw(api::control_request(xlbd.socket(), "weight", Json{{"real", real}, {"undrain", true}}));
    services.back().reals.front().weight = 10 + static_cast<std::uint32_t>(round);
    write_keepalived_conf(o.workdir, services, 1000, o.flows);
    const auto rl = timed_change(o.pin_dir, changed.key, [&] {
      ok_or_throw(api::control_request(xlbd.socket(), "reload", Json::object()));
    });
    reload_reply.push_back(rl.reply_ms);
    reload_maps.push_back(rl.maps_ms);
    services.back().reals.front().weight = 1;
    write_keepalived_conf(o.workdir, services, 1000, o.flows);
    if (!o.xlbctl.empty()) {
      // The operator's way, a process per command: xlbctl weight ADDR:PORT W.
      const auto ct = timed_change(o.pin_dir, changed.key, [&] {
        ChildProcess ctl({o.xlbctl.string(), "--socket", xlbd.socket(), "weight", real, std::to_string(20 + round)},
                         o.workdir / "xlbctl.log");
        while (!ctl.exited()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (*ctl.exited() != 0) throw std::runtime_error("xlbctl weight failed:\n" + tail_of(o.workdir / "xlbctl.log", 3));
      });
      xlbctl_reply.push_back(ct.reply_ms);
      xlbctl_maps.push_back(ct.maps_ms);
    }
    xlbd.stop();
  }
  out["start_to_maps_filled_ms"] = maps_ms;
  out["start_to_status_ms"] = status_ms;
  out["start_ms_best"] = best_of(status_ms);
  out["weight_command"] = {{"reply_ms", weight_reply}, {"maps_ms", weight_maps}, {"maps_ms_best", best_of(weight_maps)}};
  if (!xlbctl_maps.empty()) {
    out["xlbctl_weight"] = {{"exit_ms", xlbctl_reply}, {"maps_ms", xlbctl_maps}, {"maps_ms_best", best_of(xlbctl_maps)}};
  }
  out["reload_one_weight"] = {{"reply_ms", reload_reply}, {"maps_ms", reload_maps}, {"maps_ms_best", best_of(reload_maps)}};

  if (o.flows > 0) {
    // A full connection table, then xlbd restarted over its pins (flows survive restarts).
    clear_pins(o.pin_dir);
    write_keepalived_conf(o.workdir, services, 1000, o.flows);
    std::uint64_t capacity = 0, in_table = 0, inserted = 0;
    {
      Xlbd first(o, conf, false);
      first.wait_ready(o.pin_dir, services.size(), o.start_timeout_s);
      const auto info = vip_entry(o.pin_dir, services.front().key);
      dp::PinnedMap flows(o.pin_dir / "flows");
      if (!info || !flows) throw std::runtime_error("flows map");
      capacity = flows.info().max_entries;
      const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(o.flows, capacity));
      const auto key = dp::to_vip_key(services.front().key);
      inserted = fill_flows(flows.fd(), count, key.addr[0], services.front().key.port, info->vip_id,
                            live_ring_ids(o.pin_dir, *info))
                     .inserted;
      first.stop();
    }
    Xlbd second(o, conf);
    second.wait_ready(o.pin_dir, services.size(), o.start_timeout_s);
    {
      dp::PinnedMap flows(o.pin_dir / "flows");
      in_table = flows.count_entries<xlb_flow_key, xlb_flow>();
    }
    const auto t0 = Clock::now();
    const auto reply = api::control_request(second.socket(), "flows", Json{{"vip", ""}, {"client", ""}});
    const double list_ms = ms_since(t0);
    const auto wt = timed_change(o.pin_dir, changed.key, [&] {
      ok_or_throw(api::control_request(second.socket(), "weight", Json{{"real", real}, {"weight", 7}}));
    });
    out["full_table"] = {{"flows_capacity", capacity},
                         {"flows_requested", o.flows},
                         {"flows_inserted", inserted},
                         {"flows_after_restart", in_table},
                         {"restart_to_maps_filled_ms", second.maps_ms()},
                         {"restart_to_status_ms", second.status_ms()},
                         {"flows_command_ms", list_ms},
                         {"flows_command_reply_bytes", reply.dump().size()},
                         {"weight_command_maps_ms", wt.maps_ms}};
    second.stop();
  }
  clear_pins(o.pin_dir);
  return out;
}

}  // namespace xlb::bench::scale
