#include "ctrl/sync/sync_plan.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace xlb::sync {

std::unique_ptr<FlowSync> make_flow_sync(boost::asio::any_io_executor executor, const config::GlobalDefs& defs,
                                         const vrrp::RouterSettings& vrrp, dataplane::XdpBackend* xdp,
                                         const std::string& key_file, std::uint32_t max_datagrams_per_second) {
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
  std::string secret;
  std::error_code ec;
  if (!key_file.empty() && std::filesystem::exists(key_file, ec)) {
    std::ifstream in(key_file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    secret = bytes.str();
    if (!in || secret.empty()) throw std::runtime_error("lvs_sync_daemon: cannot read key file " + key_file);
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
  FlowSyncHooks hooks;
  hooks.collect = [xdp](std::uint64_t since) { return xdp->synced_flows(since); };
  hooks.install = [xdp](const dataplane::SyncedFlow& f) { return xdp->install_synced(f); };
  auto sync = std::make_unique<FlowSync>(executor, std::move(s), std::move(hooks));
  spdlog::info("flow sync: instance {} on {} (id {}), to {}, at most {} datagrams/s", lvs.instance, lvs.interface,
               lvs.sync_id, instance->unicast_peers.empty() ? "multicast" : "unicast peers", max_datagrams_per_second);
  return sync;
}

}  // namespace xlb::sync
