// lvs_sync_daemon from the configuration to a FlowSync bound to the XDP backend.
//
// The HMAC key: the bytes of `key_file` when that file exists (the recommended setup: the same
// random file on every LB node, mode 0600), else the auth_pass of the named vrrp_instance.
// Without either, sync refuses to start: flow entries from the network steer traffic, so they
// are never accepted unauthenticated. Datagrams go to the instance's unicast_peer addresses
// when it has any, else to 224.0.0.81 (ff02::81 when the instance runs over IPv6), UDP 8848.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ctrl/config/model.hpp"
#include "ctrl/dataplane/xdp_backend.hpp"
#include "ctrl/sync/flow_sync.hpp"
#include "ctrl/vrrp/settings.hpp"

namespace xlb::sync {

inline constexpr const char* default_key_file = "/etc/xlb/sync.key";

// flow_sync_peers (issue 29) instead: every node sends and installs, keyed by key_file only;
// `synced` is called when this node's join (bulk sync from its peers) has ended.
//
// nullptr when neither lvs_sync_daemon nor flow_sync_peers is configured. Throws (with the reason) when it is but
// cannot run: unknown instance, no key, no XDP backend, socket errors.
// max_datagrams_per_second: the send budget (xlbd --sync-rate).
std::unique_ptr<FlowSync> make_flow_sync(boost::asio::any_io_executor executor, const config::GlobalDefs& defs,
                                         const vrrp::RouterSettings& vrrp, dataplane::XdpBackend* xdp,
                                         const std::string& key_file = default_key_file,
                                         std::uint32_t max_datagrams_per_second = default_sync_rate,
                                         std::function<void()> synced = {});

}  // namespace xlb::sync
