// Plain settings for the VRRP subsystem. main.cpp maps the keepalived config model onto these,
// so that vrrp never depends on the parser and tests can build settings by hand.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace xlb::vrrp {

using Address = boost::asio::ip::address;
using Millis = std::chrono::milliseconds;

enum class InitialState : std::uint8_t { backup, master };

// keepalived 2.2.7 includes the IPv4 pseudo-header in the VRRPv3 checksum; RFC 9568 routers
// (and keepalived's vrrp_v3_checksum_as_v2) compute it over the VRRP message only.
enum class ChecksumMode : std::uint8_t { keepalived, rfc9568 };

struct VipSettings {
  Address address;
  std::uint8_t prefix_len = 0;  // 0: host prefix (32 or 128), as keepalived does
  std::string dev;              // empty: the instance's interface
  std::string label;
  std::optional<boost::asio::ip::address_v4> brd;
  std::string scope;  // "global", "link", "host", "site" or a number; empty: global
  bool operator==(const VipSettings&) const = default;
};

struct PeerSettings {
  Address address;
  int min_ttl = 0;  // unicast adverts may be routed: accept TTL in [min_ttl, max_ttl]
  int max_ttl = 255;
  bool operator==(const PeerSettings&) const = default;
};

// weight 0: interface down -> FAULT. weight > 0: added while up. weight < 0: added while down.
struct TrackInterface {
  std::string name;
  int weight = 0;
  bool operator==(const TrackInterface&) const = default;
};

// A vrrp_script together with the weight the instance's track_script gives it.
// weight 0: failing -> FAULT. weight > 0: added while passing. weight < 0: added while failing.
struct TrackScript {
  std::string name;
  std::vector<std::string> argv;
  Millis interval{1000};
  Millis timeout{0};  // 0: interval
  int rise = 1;
  int fall = 1;
  int weight = 0;
  bool operator==(const TrackScript&) const = default;
};

struct InstanceSettings {
  std::string name;
  std::string interface;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 100;  // 255: address owner
  Millis advert_int{1000};
  int version = 2;  // 2 (RFC 3768, IPv4 only) or 3 (RFC 5798)
  InitialState initial_state = InitialState::backup;
  bool nopreempt = false;
  Millis preempt_delay{0};
  std::string auth_pass;  // non-empty: v2 PASS authentication (cleartext, insecure)
  std::vector<VipSettings> vips;
  std::vector<VipSettings> excluded_vips;  // installed but never advertised
  std::optional<Address> unicast_src;
  std::vector<PeerSettings> unicast_peers;  // empty: multicast
  std::optional<Address> mcast_group;       // empty: 224.0.0.18 or ff02::12
  bool check_unicast_src = false;           // vrrp_check_unicast_src
  std::vector<TrackInterface> track_interfaces;
  std::vector<TrackScript> track_scripts;
  Millis garp_master_delay{5000};
  int garp_master_repeat = 5;
  Millis garp_master_refresh{0};  // 0: never
  Millis garp_interval{0};        // gap between repeated gratuitous ARPs
  bool accept = true;
  ChecksumMode checksum_mode = ChecksumMode::keepalived;
  // xlb-specific: adverts also go out (and are accepted) over these interfaces (multicast) and
  // to these peers (unicast), so that losing one link does not make two masters.
  std::vector<std::string> extra_interfaces;
  std::vector<PeerSettings> extra_peers;
  bool split_brain_check = false;
  Millis split_brain_interval{2000};
  bool operator==(const InstanceSettings&) const = default;
};

struct SyncGroupSettings {
  std::string name;
  std::vector<std::string> instances;
  bool operator==(const SyncGroupSettings&) const = default;
};

struct RouterSettings {
  std::vector<InstanceSettings> instances;
  std::vector<SyncGroupSettings> sync_groups;
  bool operator==(const RouterSettings&) const = default;
};

}  // namespace xlb::vrrp
