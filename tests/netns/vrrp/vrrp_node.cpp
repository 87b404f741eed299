// vrrp_node: one VRRP instance from command-line settings, without xlbd's main, for the
// namespace tests and the failover benchmark. Prints one line per event:
//   EVENT <instance> <old> <new> <priority> <reason>
// SIGTERM/SIGINT: leave (priority 0). SIGUSR1: print "COUNTERS ..." with the drop reasons.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "ctrl/vrrp/router.hpp"
#include "fork_runner.hpp"

namespace {

using namespace xlb::vrrp;

// "address[/len][@dev]"
VipSettings parse_vip(std::string s) {
  VipSettings v;
  if (auto at = s.find('@'); at != std::string::npos) {
    v.dev = s.substr(at + 1);
    s.resize(at);
  }
  auto slash = s.find('/');
  v.address = boost::asio::ip::make_address(s.substr(0, slash));
  if (slash != std::string::npos) v.prefix_len = static_cast<std::uint8_t>(std::stoi(s.substr(slash + 1)));
  return v;
}

// "address[:min_ttl:max_ttl]" for IPv4; IPv6 peers take no TTL window here.
PeerSettings parse_peer(const std::string& s) {
  PeerSettings p;
  auto c = s.find(':');
  if (c == std::string::npos || s.find("::") != std::string::npos || s.find(':', c + 1) == std::string::npos ||
      std::count(s.begin(), s.end(), ':') != 2) {
    p.address = boost::asio::ip::make_address(s);
    return p;
  }
  p.address = boost::asio::ip::make_address(s.substr(0, c));
  auto c2 = s.find(':', c + 1);
  p.min_ttl = std::stoi(s.substr(c + 1, c2 - c - 1));
  p.max_ttl = std::stoi(s.substr(c2 + 1));
  return p;
}

void print_counters(const Router& r) {
  for (const auto& st : r.status()) {
    std::cout << "COUNTERS " << st.name << " state=" << to_string(st.state)
              << " prio=" << st.effective_priority << " sent=" << st.counters.adverts_sent
              << " received=" << st.counters.adverts_received
              << " split_brain=" << st.counters.split_brain_detected
              << " garp=" << st.counters.garp_sent;
    for (std::size_t i = 1; i < kDropReasonCount; ++i)
      std::cout << " " << to_string(static_cast<DropReason>(i)) << "=" << st.counters.drops[i];
    std::cout << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"standalone VRRP node"};
  InstanceSettings s;
  s.name = "VI_1";
  double advert = 1.0, preempt_delay = 0, garp_delay = 0, sb_interval = 0.5;
  std::string state = "BACKUP", checksum = "keepalived", log_level = "info";
  std::vector<std::string> vips, peers, extra_peers, track_ifs, scripts;
  std::optional<std::string> src, group;
  int vrid = 51, prio = 100;
  app.add_option("--name", s.name);
  app.add_option("--interface", s.interface)->required();
  app.add_option("--vrid", vrid);
  app.add_option("--priority", prio);
  app.add_option("--advert-int", advert, "seconds");
  app.add_option("--version", s.version);
  app.add_option("--state", state);
  app.add_flag("--nopreempt", s.nopreempt);
  app.add_option("--preempt-delay", preempt_delay, "seconds");
  app.add_option("--auth-pass", s.auth_pass);
  app.add_option("--vip", vips)->required();
  app.add_option("--unicast-src", src);
  app.add_option("--peer", peers, "address[:min_ttl:max_ttl]");
  app.add_option("--mcast-group", group);
  app.add_flag("--check-unicast-src", s.check_unicast_src);
  app.add_option("--track-interface", track_ifs, "name:weight");
  app.add_option("--track-script", scripts, "weight:rise:fall:interval_ms:command");
  app.add_option("--extra-interface", s.extra_interfaces);
  app.add_option("--extra-peer", extra_peers);
  app.add_flag("--split-brain-check", s.split_brain_check);
  app.add_option("--split-brain-interval", sb_interval, "seconds");
  app.add_option("--checksum", checksum, "keepalived|rfc9568");
  app.add_option("--garp-delay", garp_delay, "seconds");
  app.add_option("--log-level", log_level);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  s.vrid = static_cast<std::uint8_t>(vrid);
  s.priority = static_cast<std::uint8_t>(prio);
  s.advert_int = Millis{static_cast<long long>(advert * 1000 + 0.5)};
  s.initial_state = state == "MASTER" ? InitialState::master : InitialState::backup;
  s.preempt_delay = Millis{static_cast<long long>(preempt_delay * 1000)};
  s.garp_master_delay = Millis{static_cast<long long>(garp_delay * 1000)};
  s.garp_master_repeat = 1;
  s.split_brain_interval = Millis{static_cast<long long>(sb_interval * 1000)};
  s.checksum_mode = checksum == "rfc9568" ? ChecksumMode::rfc9568 : ChecksumMode::keepalived;
  for (const auto& v : vips) s.vips.push_back(parse_vip(v));
  for (const auto& p : peers) s.unicast_peers.push_back(parse_peer(p));
  for (const auto& p : extra_peers) s.extra_peers.push_back(parse_peer(p));
  if (src) s.unicast_src = boost::asio::ip::make_address(*src);
  if (group) s.mcast_group = boost::asio::ip::make_address(*group);
  for (const auto& t : track_ifs) {
    auto c = t.find(':');
    s.track_interfaces.push_back({t.substr(0, c), c == std::string::npos ? 0 : std::stoi(t.substr(c + 1))});
  }
  for (const auto& t : scripts) {
    TrackScript ts;
    std::size_t pos = 0;
    auto next = [&] {
      auto c = t.find(':', pos);
      std::string f = t.substr(pos, c - pos);
      pos = c + 1;
      return std::stoi(f);
    };
    ts.weight = next();
    ts.rise = next();
    ts.fall = next();
    ts.interval = Millis{next()};
    ts.name = "script" + std::to_string(s.track_scripts.size());
    ts.argv = {"/bin/sh", "-c", t.substr(pos)};
    s.track_scripts.push_back(ts);
  }

  boost::asio::io_context io;
  RouterSettings rs;
  rs.instances.push_back(s);
  try {
    Router router(io.get_executor(), rs, &xlb::vrrp::test::run_script);
    router.set_observer([](const StateChange& c) {
      std::cout << "EVENT " << c.instance << " " << to_string(c.old_state) << " "
                << c.notify_state() << " " << c.priority << " " << to_string(c.reason) << std::endl;
    });
    boost::asio::signal_set sigs(io, SIGTERM, SIGINT);
    std::function<void(boost::system::error_code, int)> on_sig;
    on_sig = [&](boost::system::error_code ec, int) {
      if (ec) return;
      print_counters(router);
      router.stop();
      io.stop();
    };
    sigs.async_wait(on_sig);
    boost::asio::signal_set usr(io, SIGUSR1);
    std::function<void(boost::system::error_code, int)> on_usr;
    on_usr = [&](boost::system::error_code ec, int) {
      if (ec) return;
      print_counters(router);
      usr.async_wait(on_usr);
    };
    usr.async_wait(on_usr);
    router.start();
    std::cout << "READY" << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "vrrp_node: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
