#include "ctrl/sync/sync_plan.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ctrl/dataplane/map_values.hpp"

namespace xlb::sync {
namespace {

// The key file's bytes; empty when there is no such file. Throws when it exists but is empty
// or unreadable.
std::string read_key_file(const std::string& key_file, const char* who) {
  std::error_code ec;
  if (key_file.empty() || !std::filesystem::exists(key_file, ec)) return {};
  std::ifstream in(key_file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in || bytes.str().empty()) throw std::runtime_error(std::string(who) + ": cannot read key file " + key_file);
  return bytes.str();
}

// The addresses of this node's interfaces: a peer list names every node, this one included.
std::set<IpAddress> local_addresses() {
  std::set<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      out.insert(boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), in6->sin6_addr.s6_addr, b.size());
      out.insert(boost::asio::ip::address_v6(b));
    }
  }
  ::freeifaddrs(list);
  return out;
}

FlowSyncHooks xdp_hooks(dataplane::XdpBackend* xdp) {
  FlowSyncHooks hooks;
  hooks.collect = [xdp](std::uint64_t since) { return xdp->synced_flows(since); };
  hooks.install = [xdp](const dataplane::SyncedFlow& f) { return xdp->install_synced(f); };
  return hooks;
}

// flow_sync_peers: every node sends and installs; keyed by the key file only (there is no VRRP
// instance whose auth_pass could stand in).
std::unique_ptr<FlowSync> make_peer_sync(boost::asio::any_io_executor executor, const config::GlobalDefs& defs,
                                         dataplane::XdpBackend* xdp, const std::string& key_file,
                                         std::uint32_t max_datagrams_per_second, std::function<void()> synced) {
  const config::FlowSyncPeers& peers = *defs.flow_sync_peers;
  if ((*defs.lvs_sync_daemon).enabled)
    throw std::runtime_error("flow_sync_peers and lvs_sync_daemon: one node runs one flow sync; keep one of them");
  if (xdp == nullptr) throw std::runtime_error("flow_sync_peers: flow sync needs the XDP dataplane");
  FlowSyncSettings s;
  s.interface = peers.interface;
  s.instance = "flow_sync_peers";
  s.sync_id = peers.sync_id;
  s.max_datagrams_per_second = max_datagrams_per_second;
  s.max_clock_skew = std::chrono::seconds(*defs.sync_max_clock_skew);
  s.all_peers = true;
  s.join_wait = std::chrono::seconds(*defs.flow_sync_join_wait);
  const std::string secret = read_key_file(key_file, "flow_sync_peers");
  if (secret.empty()) throw std::runtime_error("flow_sync_peers: no key: write one to " + key_file + " (the same on every node)");
  s.key_source = "file " + key_file;
  s.key = derive_key(secret);
  const auto mine = local_addresses();
  for (const auto& p : peers.peers) {
    const auto a = boost::asio::ip::make_address(p.to_string());
    if (!mine.contains(a)) s.peers.push_back(a);
  }
  if (s.peers.empty()) throw std::runtime_error("flow_sync_peers: every address listed is this node's own");
  FlowSyncHooks hooks = xdp_hooks(xdp);
  // Copies never displace a flow this node forwards, and are stamped two scans old so that
  // this node's own scans do not send them back to the peer they came from.
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(s.scan_interval).count();
  hooks.install = [xdp, interval](const dataplane::SyncedFlow& f) {
    const auto now = dataplane::monotonic_ns();
    const auto back = static_cast<std::uint64_t>(2 * interval);
    return xdp->install_synced(f, dataplane::XdpBackend::SyncedInstall::keep_own, now > back ? now - back : 0);
  };
  hooks.synced = std::move(synced);
  const std::size_t n = s.peers.size();
  auto sync = std::make_unique<FlowSync>(executor, std::move(s), std::move(hooks));
  spdlog::info("flow sync: flow_sync_peers on {} (id {}), {} peer(s), at most {} datagrams/s", peers.interface,
               peers.sync_id, n, max_datagrams_per_second);
  return sync;
}

}  // namespace

std::unique_ptr<FlowSync> make_flow_sync(boost::asio::any_io_executor executor, const config::GlobalDefs& defs,
                                         const vrrp::RouterSettings& vrrp, dataplane::XdpBackend* xdp,
                                         const std::string& key_file, std::uint32_t max_datagrams_per_second,
                                         std::function<void()> synced) {
  if ((*defs.flow_sync_peers).enabled)
    return make_peer_sync(executor, defs, xdp, key_file, max_datagrams_per_second, std::move(synced));
  const config::LvsSyncDaemon& lvs = *defs.lvs_sync_daemon;
  if (!lvs.enabled) return nullptr;
  const vrrp::InstanceSettings* instance = nullptr;
  for (const auto& i : vrrp.instances) {
    if (i.name == lvs.instance) instance = &i;
  }
  if (instance == nullptr) throw std::runtime_error("lvs_sync_daemon: no vrrp_instance " + lvs.instance);
  if (xdp == nullptr) throw std::runtime_error("lvs_sync_daemon: flow sync needs the XDP dataplane");

  FlowSyncSettings s;
  s.interface = lvs.interface;
  s.instance = lvs.instance;
  s.sync_id = lvs.sync_id;
  s.max_datagrams_per_second = max_datagrams_per_second;
  s.max_clock_skew = std::chrono::seconds(*defs.sync_max_clock_skew);
  std::string secret = read_key_file(key_file, "lvs_sync_daemon");
  if (!secret.empty()) {
    s.key_source = "file " + key_file;
  } else if (!instance->auth_pass.empty()) {
    // Kept for keepalived files that have no key file yet, and said at every start: PASS sends
    // auth_pass in clear in every advert, so anyone on the link who reads one can forge flows.
    secret = instance->auth_pass;
    s.key_source = "auth_pass of vrrp_instance " + lvs.instance + " (readable in every advert: use a key file)";
    spdlog::warn("lvs_sync_daemon: no key file {}: flow sync is keyed by the auth_pass of vrrp_instance {}, which "
                 "every VRRP advert carries in clear, so anyone on the link can forge flows; create the key file "
                 "(the same on every node)",
                 key_file, lvs.instance);
  } else {
    throw std::runtime_error("lvs_sync_daemon: no key: write one to " + key_file + " or set auth_pass in vrrp_instance " +
                             lvs.instance);
  }
  s.key = derive_key(secret);
  for (const auto& peer : instance->unicast_peers) s.peers.push_back(peer.address);
  if (s.peers.empty() && !instance->vips.empty() && instance->vips.front().address.is_v6()) {
    s.group = boost::asio::ip::make_address("ff02::81");
  }
  auto sync = std::make_unique<FlowSync>(executor, std::move(s), xdp_hooks(xdp));
  spdlog::info("flow sync: instance {} on {} (id {}), to {}, at most {} datagrams/s", lvs.instance, lvs.interface,
               lvs.sync_id, instance->unicast_peers.empty() ? "multicast" : "unicast peers", max_datagrams_per_second);
  return sync;
}

}  // namespace xlb::sync
