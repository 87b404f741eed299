#include "ctrl/dataplane/ipvs/dest_plan.hpp"

#include <linux/ip_vs.h>

#include <algorithm>

namespace xlb::dataplane::ipvs {

namespace {

bool same_slot(const DestSpec& a, const DestSpec& b) {
  return a.address == b.address && a.port == b.port;
}

const DestSpec* find_slot(const std::vector<DestSpec>& v, const DestSpec& d) {
  auto it = std::find_if(v.begin(), v.end(), [&](const DestSpec& x) { return same_slot(x, d); });
  return it == v.end() ? nullptr : &*it;
}

void put(std::vector<DestSpec>& out, DestSpec d) {
  auto it = std::find_if(out.begin(), out.end(), [&](const DestSpec& x) { return same_slot(x, d); });
  if (it != out.end())
    *it = d;  // a real listed twice: the later entry wins, as keepalived's reload does
  else
    out.push_back(d);
}

DestSpec to_dest(const ServiceSpec& spec, const RealServer& real) {
  const ServiceKey& key = spec.key;
  DestSpec d;
  d.address = real.address;
  d.fwd = fwd_method(real.forwarding);
  d.weight = real.weight;
  d.port = (d.fwd != IP_VS_CONN_F_MASQ && key.fwmark == 0) ? key.port : real.port;
  set_tunnel(d, spec.tunnel);
  return d;
}

}  // namespace

std::vector<DestSpec> desired_dests(const ServiceSpec& spec) {
  std::vector<DestSpec> out;
  bool any_up = false;
  for (const RealServer& r : spec.reals) {
    put(out, to_dest(spec, r));
    any_up = any_up || r.weight > 0;
  }
  if (!any_up && spec.sorry_server) {
    RealServer sorry = *spec.sorry_server;
    if (sorry.weight == 0) sorry.weight = 1;
    put(out, to_dest(spec, sorry));
  }
  return out;
}

DestPlan plan_dests(const std::vector<DestSpec>& current, const std::vector<DestSpec>& desired) {
  DestPlan plan;
  for (const DestSpec& want : desired) {
    const DestSpec* have = find_slot(current, want);
    if (!have) {
      plan.add.push_back(want);
      continue;
    }
    // A destination on a local address reads back as LOCALNODE whatever method was asked.
    const bool fwd_differs = have->fwd != IP_VS_CONN_F_LOCALNODE && have->fwd != want.fwd;
    const bool tunnel_differs = have->fwd == IP_VS_CONN_F_TUNNEL &&
                                (have->tun_type != want.tun_type || have->tun_port != want.tun_port ||
                                 have->tun_flags != want.tun_flags);
    if (have->weight != want.weight || fwd_differs || tunnel_differs) plan.update.push_back(want);
  }
  for (const DestSpec& have : current)
    if (!find_slot(desired, have)) plan.remove.push_back(have);
  return plan;
}

ServiceKey normalized(const ServiceKey& key) {
  if (key.fwmark == 0) return key;
  ServiceKey k;
  k.fwmark = key.fwmark;
  k.address = key.address.is_v6() ? IpAddress(boost::asio::ip::address_v6()) : IpAddress();
  return k;
}

}  // namespace xlb::dataplane::ipvs
