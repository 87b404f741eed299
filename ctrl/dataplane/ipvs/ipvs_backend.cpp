#include "ctrl/dataplane/ipvs/ipvs_backend.hpp"

#include <linux/ip_vs.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <fstream>
#include <system_error>

#include "ctrl/dataplane/ipvs/conn_table.hpp"
#include "ctrl/dataplane/ipvs/dest_plan.hpp"

namespace xlb::dataplane {

using namespace ipvs;

namespace {

Forwarding forwarding_of(std::uint32_t fwd) {
  switch (fwd) {
    case IP_VS_CONN_F_MASQ: return Forwarding::nat;
    case IP_VS_CONN_F_TUNNEL: return Forwarding::tun;
    case IP_VS_CONN_F_LOCALNODE: return Forwarding::local;
    default: return Forwarding::dr;
  }
}

std::string describe(const ServiceKey& key) {
  if (key.fwmark) return "fwmark " + std::to_string(key.fwmark);
  return key.address.to_string() + ":" + std::to_string(key.port) +
         (key.protocol == Protocol::udp ? "/udp" : "/tcp");
}

void write_sysctl(const char* path, const char* value) {
  std::ofstream f(path);
  f << value;
  if (!f.flush()) spdlog::warn("ipvs: cannot write {} = {}", path, value);
}

}  // namespace

IpvsBackend::IpvsBackend() : sock_(IPVS_GENL_NAME) {}

void IpvsBackend::run(NlMsgPtr msg, const char* what) {
  if (int err = sock_.transact(msg.get()); err < 0)
    throw std::system_error(-err, std::generic_category(), std::string("ipvs: ") + what);
}

void IpvsBackend::apply(const ServiceSpec& spec_in) {
  ServiceSpec spec = spec_in;
  spec.key = normalized(spec.key);
  last_apply_ = {};
  const ServiceAttrs attrs = service_attrs(spec);
  const auto current = service(spec.key);
  if (!current) {
    run(service_msg(sock_.family_id(), IPVS_CMD_NEW_SERVICE, spec.key, &attrs), "add service");
    ++last_apply_.services_added;
  } else if (!(current->attrs == attrs)) {
    run(service_msg(sock_.family_id(), IPVS_CMD_SET_SERVICE, spec.key, &attrs), "set service");
    ++last_apply_.services_updated;
  }
  std::vector<DestSpec> have;
  if (current)
    for (const KernelDest& d : dests(spec.key)) have.push_back(d.dest);
  const DestPlan plan = plan_dests(have, desired_dests(spec));
  const int fam = sock_.family_id();
  for (const DestSpec& d : plan.add) {
    run(dest_msg(fam, IPVS_CMD_NEW_DEST, spec.key, d), "add destination");
    ++last_apply_.dests_added;
  }
  for (const DestSpec& d : plan.update) {
    run(dest_msg(fam, IPVS_CMD_SET_DEST, spec.key, d), "set destination");
    ++last_apply_.dests_updated;
  }
  for (const DestSpec& d : plan.remove) {
    run(dest_msg(fam, IPVS_CMD_DEL_DEST, spec.key, d), "remove destination");
    ++last_apply_.dests_removed;
  }
  if (last_apply_.total())
    spdlog::info("ipvs: {}: +{} svc, ~{} svc, +{} ~{} -{} dest", describe(spec.key),
                 last_apply_.services_added, last_apply_.services_updated,
                 last_apply_.dests_added, last_apply_.dests_updated, last_apply_.dests_removed);
}

void IpvsBackend::remove(const ServiceKey& key) {
  int err = sock_.transact(service_msg(sock_.family_id(), IPVS_CMD_DEL_SERVICE, normalized(key)).get());
  if (err < 0 && err != -ESRCH)
    throw std::system_error(-err, std::generic_category(), "ipvs: remove service " + describe(key));
}

void IpvsBackend::flush_flows_to(const ServiceKey&, const IpAddress&) {
  write_sysctl("/proc/sys/net/ipv4/vs/expire_nodest_conn", "1");
  write_sysctl("/proc/sys/net/ipv4/vs/expire_quiescent_template", "1");
}

void IpvsBackend::flush() { run(flush_msg(sock_.family_id()), "flush"); }

std::vector<KernelService> IpvsBackend::services() {
  std::vector<KernelService> out;
  int err = sock_.transact(dump_services_msg(sock_.family_id()).get(), [&](nlmsghdr* h) {
    if (auto s = parse_service(h)) out.push_back(std::move(*s));
  });
  if (err < 0) throw std::system_error(-err, std::generic_category(), "ipvs: list services");
  return out;
}

std::optional<KernelService> IpvsBackend::service(const ServiceKey& key_in) {
  const ServiceKey key = normalized(key_in);
  std::optional<KernelService> out;
  int err = sock_.transact(service_msg(sock_.family_id(), IPVS_CMD_GET_SERVICE, key).get(),
                           [&](nlmsghdr* h) { out = parse_service(h); });
  if (err == -ESRCH || err == -ENOENT) return std::nullopt;
  if (err < 0) throw std::system_error(-err, std::generic_category(), "ipvs: get service");
  return out;
}

std::vector<KernelDest> IpvsBackend::dests(const ServiceKey& key_in) {
  const ServiceKey key = normalized(key_in);
  std::vector<KernelDest> out;
  int err = sock_.transact(dump_dests_msg(sock_.family_id(), key).get(), [&](nlmsghdr* h) {
    if (auto d = parse_dest(h, key)) out.push_back(std::move(*d));
  });
  if (err < 0) throw std::system_error(-err, std::generic_category(), "ipvs: list destinations");
  return out;
}

std::vector<ServiceStats> IpvsBackend::stats() {
  std::vector<ServiceStats> out;
  for (KernelService& s : services()) {
    ServiceStats st;
    st.key = s.key;
    st.counters = s.counters;
    for (const KernelDest& d : dests(s.key)) {
      RealStats rs;
      rs.real.address = d.dest.address;
      rs.real.port = d.dest.port;
      rs.real.weight = d.dest.weight;
      rs.real.forwarding = forwarding_of(d.dest.fwd);
      rs.counters = d.counters;
      st.reals.push_back(rs);
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<Flow> IpvsBackend::flows() {
  std::ifstream f("/proc/net/ip_vs_conn");
  std::vector<Flow> out;
  if (!f) return out;
  for (ConnEntry& e : parse_ip_vs_conn(f)) out.push_back(std::move(e.flow));
  return out;
}

}  // namespace xlb::dataplane
