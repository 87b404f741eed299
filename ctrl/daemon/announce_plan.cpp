#include "ctrl/daemon/announce_plan.hpp"

#include <spdlog/spdlog.h>

#include "ctrl/api/prometheus.hpp"
#include "ctrl/daemon/time_text.hpp"

namespace xlb::daemon {
namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

void VipAnnouncer::update(const std::map<dataplane::IpAddress, announce::VipInputs>& vips) {
  const auto now = std::chrono::system_clock::now();
  for (auto it = vips_.begin(); it != vips_.end();) {
    if (vips.contains(it->first)) {
      ++it;
      continue;
    }
    if (auto ec = routes_.remove(it->first); ec) {
      spdlog::error("announce: {}: cannot remove its route from table {}: {}", it->first.to_string(), routes_.table(),
                    ec.message());
    } else if (it->second.routed) {
      spdlog::info("announce: {} withdrawn: no longer configured", it->first.to_string());
      if (observer_) observer_(it->first, false, announce::Reason::no_service, false);
    }
    it = vips_.erase(it);
  }
  for (const auto& [vip, given] : vips) {
    auto [it, fresh] = vips_.try_emplace(vip, Entry{{}, false, now});
    Entry& e = it->second;
    announce::VipInputs inputs = given;
    inputs.routed = e.routed;
    const auto d = announce::decide(inputs);
    if (fresh) e.decision = d;
    if (!fresh && e.decision == d && e.routed == d.announce) continue;
    if (e.decision != d) e.since = now;
    e.decision = d;
    const auto ec = d.announce ? routes_.add(vip) : routes_.remove(vip);
    const bool was = e.routed;
    if (!ec) e.routed = d.announce;
    if (ec) {
      spdlog::error("announce: {}: cannot {} its route in table {}: {}", vip.to_string(),
                    d.announce ? "add" : "remove", routes_.table(), ec.message());
    } else if (was != e.routed || fresh) {
      if (e.routed) spdlog::info("announce: {} announced (table {}, dev {})", vip.to_string(), routes_.table(), device());
      else spdlog::log(was ? spdlog::level::warn : spdlog::level::info, "announce: {} {}: {}", vip.to_string(),
                       was ? "withdrawn" : "not announced", announce::reason_name(d.reason));
      if (observer_ && (was != e.routed || fresh)) observer_(vip, e.routed, d.reason, fresh && !e.routed);
    }
  }
}

nlohmann::json VipAnnouncer::describe() const {
  nlohmann::json vips = nlohmann::json::array();
  for (const auto& [vip, e] : vips_) {
    vips.push_back({{"vip", vip.to_string()},
                    {"announced", e.routed},
                    {"reason", announce::reason_name(e.decision.reason)},
                    {"since", local_time_text(e.since)}});
  }
  return {{"table", routes_.table()}, {"device", routes_.device()}, {"protocol", announce::kRouteProtocol},
          {"operator_withdrawn", operator_withdrawn_}, {"vips", vips}};
}

void VipAnnouncer::write_metrics(api::MetricsText& m) const {
  m.family("xlb_vip_announced", api::MetricsText::Type::gauge,
           "1 while the VIP's host route is in vip_route_table; reason: why (announced or why not).");
  for (const auto& [vip, e] : vips_) {
    m.sample({{"vip", vip.to_string()}, {"reason", announce::reason_name(e.decision.reason)}}, e.routed ? 1 : 0);
  }
  m.family("xlb_vip_announce_change_timestamp_seconds", api::MetricsText::Type::gauge,
           "When the VIP's announce decision last changed (Unix time).");
  for (const auto& [vip, e] : vips_) m.sample({{"vip", vip.to_string()}}, unix_seconds(e.since));
}

}  // namespace xlb::daemon
