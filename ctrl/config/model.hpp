// The typed configuration. Every value remembers where it was written (for diagnostics) and
// whether it was written at all (otherwise it holds keepalived's default). Equality compares
// values only, never locations, so that reload can diff two loads section by section.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ctrl/config/address.hpp"
#include "ctrl/config/diagnostics.hpp"

namespace xlb::config {

template <class T>
struct Located {
  T value{};
  SourceLoc loc{};
  bool set = false;  // written in the file (else: the default)

  Located() = default;
  Located(T v) : value(std::move(v)) {}  // NOLINT: defaults read naturally as `= 100`
  Located(T v, SourceLoc l, bool written) : value(std::move(v)), loc(std::move(l)), set(written) {}
  const T& operator*() const { return value; }
  const T* operator->() const { return &value; }
  bool operator==(const Located& o) const { return value == o.value; }
};

enum class LbBackend { auto_select, xdp, ipvs };
enum class SmtpTls { none, starttls, implicit };
enum class V3Checksum { keepalived, rfc9568 };
enum class FlowLru { shared, per_cpu };  // the connection table's LRU lists

struct SmtpServer {
  std::string host;  // address or name
  std::uint16_t port = 25;
  bool operator==(const SmtpServer&) const = default;
};

struct MetricsListen {
  bool enabled = false;
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const MetricsListen&) const = default;
};

struct QuietHours {
  bool enabled = false;
  std::uint16_t start_minute = 0;  // minutes after midnight, local time
  std::uint16_t end_minute = 0;
  bool operator==(const QuietHours&) const = default;
};

struct LvsSyncDaemon {
  bool enabled = false;
  std::string interface;
  std::string instance;
  std::uint32_t sync_id = 0;
  bool operator==(const LvsSyncDaemon&) const = default;
};

// flow_sync_peers (xlb, issue 29): every node of an active-active group behind ECMP sends the
// flows it makes to every peer and installs theirs; no VRRP instance decides who sends.
struct FlowSyncPeers {
  bool enabled = false;
  std::string interface;
  std::vector<IpAddr> peers;  // every node of the group; this node's own address is skipped
  std::uint32_t sync_id = 0;
  bool operator==(const FlowSyncPeers&) const = default;
};

struct GlobalDefs {
  Located<std::string> router_id;
  std::vector<Located<std::string>> notification_email;
  Located<std::string> notification_email_from;
  Located<SmtpServer> smtp_server;
  Located<std::string> smtp_helo_name;
  Located<std::uint32_t> smtp_connect_timeout = 30u;
  Located<bool> smtp_alert = false;
  Located<std::optional<bool>> smtp_alert_vrrp;     // unset: follows smtp_alert
  Located<std::optional<bool>> smtp_alert_checker;  // unset: follows smtp_alert
  Located<std::string> script_user;
  Located<std::string> script_group;
  Located<bool> enable_script_security = false;
  Located<IpAddr> vrrp_mcast_group4 = *IpAddr::parse("224.0.0.18");
  Located<IpAddr> vrrp_mcast_group6 = *IpAddr::parse("ff02::12");
  Located<std::uint32_t> vrrp_garp_master_delay = 5u;  // seconds
  Located<std::uint32_t> vrrp_garp_master_repeat = 5u;
  Located<std::uint32_t> vrrp_garp_master_refresh = 0u;  // seconds, 0 = never
  Located<bool> vrrp_check_unicast_src = false;
  Located<bool> vrrp_strict = false;
  Located<std::uint8_t> vrrp_version = std::uint8_t{2};
  Located<LvsSyncDaemon> lvs_sync_daemon;
  Located<FlowSyncPeers> flow_sync_peers;
  // xlb additions
  Located<LbBackend> lb_backend = LbBackend::auto_select;
  Located<std::string> xdp_pin_dir = std::string("/sys/fs/bpf/xlb");
  // Kernel table of the VIP host routes a routing daemon announces (0: none), and the seconds
  // xlbd keeps forwarding after withdrawing them on SIGTERM (issue 29).
  Located<std::uint32_t> vip_route_table = 0u;
  Located<std::uint32_t> vip_route_grace = 2u;
  // Run when this node starts or stops announcing a VIP: ANNOUNCE <vip> ANNOUNCED|WITHDRAWN <reason>.
  Located<std::string> notify_announce;
  Located<MetricsListen> metrics_listen = MetricsListen{true, "127.0.0.1", 9780};
  // The status page at / of metrics_listen (the JSON API under /api/v1 stays; docs/api.md).
  Located<bool> status_page = true;
  // Each listener's share of xlbd's descriptors, and how long a client may hold one without
  // finishing a request (docs/security.md, "What each listener accepts").
  Located<std::uint32_t> control_socket_max_connections = 32u;
  Located<std::uint32_t> control_socket_idle_timeout = 60u;     // seconds
  Located<std::uint32_t> control_socket_request_timeout = 10u;  // seconds
  Located<std::uint32_t> metrics_max_connections = 32u;
  Located<std::uint32_t> metrics_idle_timeout = 60u;
  Located<std::uint32_t> metrics_request_timeout = 10u;
  // How far a flow-sync datagram's send time may be from this node's clock, seconds.
  Located<std::uint32_t> sync_max_clock_skew = 30u;
  // flow_sync_peers: seconds a starting node waits for its peers' tables before it announces.
  Located<std::uint32_t> flow_sync_join_wait = 5u;
  Located<std::string> smtp_auth_user;
  Located<std::string> smtp_password_file;
  Located<SmtpTls> smtp_tls = SmtpTls::none;
  Located<std::uint32_t> smtp_digest_window = 0u;  // seconds, 0 = one mail per event
  Located<QuietHours> smtp_quiet_hours;
  Located<V3Checksum> vrrp_v3_checksum = V3Checksum::keepalived;
  Located<std::uint32_t> tcp_flow_timeout = 900u;  // seconds
  Located<std::uint32_t> udp_flow_timeout = 300u;
  // XDP table sizes (max_entries of the BPF maps); a change needs a restart on fresh pins.
  Located<std::uint32_t> xdp_max_flows = 262144u;
  Located<std::uint32_t> xdp_max_services = 256u;
  Located<std::uint32_t> xdp_max_reals = 4096u;  // one per (service, real) pair
  Located<std::uint32_t> xdp_max_persist = 65536u;
  Located<std::uint32_t> xdp_ring_size = 4093u;  // per service and ring half; prime (Maglev)
  Located<FlowLru> xdp_flow_lru = FlowLru::shared;
  bool operator==(const GlobalDefs&) const = default;
};

struct VrrpScript {
  Located<std::string> name;
  Located<std::string> script;  // the command line as written
  Located<std::uint32_t> interval = 1u;
  Located<std::uint32_t> timeout = 0u;  // 0: the interval
  Located<std::int32_t> weight = 0;
  Located<std::uint32_t> rise = 1u;
  Located<std::uint32_t> fall = 1u;
  Located<std::string> user;
  Located<std::string> group;
  bool operator==(const VrrpScript&) const = default;
};

struct NotifyScripts {
  Located<std::string> notify, notify_master, notify_backup, notify_fault, notify_stop;
  bool operator==(const NotifyScripts&) const = default;
};

struct VrrpSyncGroup {
  Located<std::string> name;
  std::vector<Located<std::string>> group;
  NotifyScripts notify;
  Located<bool> smtp_alert = false;
  bool operator==(const VrrpSyncGroup&) const = default;
};

enum class VrrpState { backup, master };
enum class AuthType { none, pass, ah };

struct VirtualIp {
  IpAddr address;
  std::uint8_t prefix = 0;  // 32/128 when not written
  std::string dev;          // empty: the instance's interface
  std::string label;
  std::optional<IpAddr> broadcast;
  std::string scope;
  SourceLoc loc;
  bool operator==(const VirtualIp& o) const {
    return address == o.address && prefix == o.prefix && dev == o.dev && label == o.label &&
           broadcast == o.broadcast && scope == o.scope;
  }
};

struct UnicastPeer {
  IpAddr address;
  std::optional<std::uint8_t> min_ttl, max_ttl;
  SourceLoc loc;
  bool operator==(const UnicastPeer& o) const {
    return address == o.address && min_ttl == o.min_ttl && max_ttl == o.max_ttl;
  }
};

struct TrackInterface {
  Located<std::string> name;
  std::int32_t weight = 0;
  bool operator==(const TrackInterface&) const = default;
};

struct TrackScript {
  Located<std::string> name;
  std::optional<std::int32_t> weight;  // unset: the script's own weight
  bool operator==(const TrackScript&) const = default;
};

// An extra path for adverts (xlb): a second interface, or a unicast peer reached another way.
struct HeartbeatPath {
  enum class Kind { interface, peer };
  Kind kind = Kind::interface;
  std::string interface;
  std::optional<IpAddr> peer;
  SourceLoc loc;
  bool operator==(const HeartbeatPath& o) const {
    return kind == o.kind && interface == o.interface && peer == o.peer;
  }
};

struct VrrpInstance {
  Located<std::string> name;
  Located<VrrpState> state = VrrpState::backup;
  Located<std::string> interface;
  Located<std::uint8_t> virtual_router_id;  // required, 1-255
  Located<std::uint8_t> priority = std::uint8_t{100};
  Located<std::uint32_t> advert_int_cs = 100u;  // centiseconds (v2: whole seconds only)
  Located<std::uint8_t> version = std::uint8_t{2};  // from global vrrp_version when unset
  Located<bool> nopreempt = false;
  Located<std::uint32_t> preempt_delay = 0u;  // seconds
  Located<AuthType> auth_type = AuthType::none;
  Located<std::string> auth_pass;
  std::vector<VirtualIp> virtual_ipaddress;
  std::vector<VirtualIp> virtual_ipaddress_excluded;
  Located<std::optional<IpAddr>> unicast_src_ip;
  std::vector<UnicastPeer> unicast_peer;
  std::vector<TrackInterface> track_interface;
  std::vector<TrackScript> track_script;
  NotifyScripts notify;
  Located<std::optional<bool>> smtp_alert;  // unset: global smtp_alert_vrrp / smtp_alert
  Located<bool> accept = true;              // keepalived: accept unless vrrp_strict
  Located<std::uint32_t> garp_master_delay;  // defaults from global_defs
  Located<std::uint32_t> garp_master_repeat;
  Located<std::uint32_t> garp_master_refresh;
  std::vector<HeartbeatPath> heartbeat_extra;  // xlb
  Located<bool> split_brain_check = false;     // xlb
  bool operator==(const VrrpInstance&) const = default;
};

enum class LbKind { nat, dr, tun };

// lb_kind TUN's encapsulation (keepalived: lvs_method TUN [type {ipip|gue port N|gre}]
// [nocsum|csum|remcsum]). ipip also means IPv6 in IPv6 and IPv4 in IPv6, as in IPVS.
enum class TunnelType { ipip, gue, gre };
enum class TunnelChecksum { nocsum, csum, remcsum };
struct Tunnel {
  TunnelType type = TunnelType::ipip;
  std::uint16_t port = 0;  // gue only
  TunnelChecksum checksum = TunnelChecksum::nocsum;
  bool operator==(const Tunnel&) const = default;
};

// xlb: the outer source of tunnelled packets, a prefix whose host bits take the flow hash
// (so that a real's receive-side scaling spreads flows); unset: the egress interface's address.
struct TunnelSourcePrefix {
  IpAddr address;
  std::uint8_t prefix = 32;
  bool operator==(const TunnelSourcePrefix&) const = default;
};
enum class Protocol { tcp, udp };

struct StatusRange {
  std::uint16_t low = 200, high = 200;
  bool operator==(const StatusRange&) const = default;
};

struct UrlCheck {
  Located<std::string> path;
  Located<std::string> digest;
  std::vector<StatusRange> status_code;  // empty: any 2xx
  Located<std::string> virtualhost;
  SourceLoc loc;
  bool operator==(const UrlCheck& o) const {
    return path == o.path && digest == o.digest && status_code == o.status_code &&
           virtualhost == o.virtualhost;
  }
};

enum class CheckerType { http_get, ssl_get, tcp_check, misc_check, dns_check, udp_check, ping_check };

struct Checker {
  CheckerType type = CheckerType::tcp_check;
  SourceLoc loc;
  Located<std::optional<IpAddr>> connect_ip;      // unset: the real server
  Located<std::uint16_t> connect_port;            // 0: the real server's port
  Located<std::optional<IpAddr>> bindto;
  Located<std::uint32_t> connect_timeout = 5u;    // seconds
  Located<std::uint32_t> retry = 1u;
  Located<std::uint32_t> delay_before_retry = 1u;  // seconds
  Located<std::uint32_t> delay_loop;              // seconds; defaults to the virtual server's
  Located<std::uint32_t> warmup = 0u;
  // HTTP_GET / SSL_GET
  std::vector<UrlCheck> url;
  Located<std::string> virtualhost;
  Located<std::string> sni_server_name;
  // MISC_CHECK
  Located<std::string> misc_path;
  Located<std::uint32_t> misc_timeout;  // 0: delay_loop
  Located<bool> misc_dynamic = false;
  Located<std::string> user;
  // DNS_CHECK
  Located<std::string> dns_type = std::string("SOA");
  Located<std::string> dns_name = std::string(".");
  bool operator==(const Checker& o) const {
    return type == o.type && connect_ip == o.connect_ip && connect_port == o.connect_port &&
           bindto == o.bindto && connect_timeout == o.connect_timeout && retry == o.retry &&
           delay_before_retry == o.delay_before_retry && delay_loop == o.delay_loop &&
           warmup == o.warmup && url == o.url && virtualhost == o.virtualhost &&
           sni_server_name == o.sni_server_name && misc_path == o.misc_path &&
           misc_timeout == o.misc_timeout && misc_dynamic == o.misc_dynamic && user == o.user &&
           dns_type == o.dns_type && dns_name == o.dns_name;
  }
};

struct RealServer {
  IpAddr address;
  std::uint16_t port = 0;
  SourceLoc loc;
  Located<std::uint32_t> weight = 1u;
  Located<bool> inhibit_on_failure;  // defaults from the virtual server
  Located<std::string> notify_up, notify_down;
  std::vector<Checker> checkers;
  bool operator==(const RealServer& o) const {
    return address == o.address && port == o.port && weight == o.weight &&
           inhibit_on_failure == o.inhibit_on_failure && notify_up == o.notify_up &&
           notify_down == o.notify_down && checkers == o.checkers;
  }
};

struct SorryServer {
  IpAddr address;
  std::uint16_t port = 0;
  bool operator==(const SorryServer&) const = default;
};

struct VirtualServer {
  enum class Kind { address, fwmark, group };
  Kind kind = Kind::address;
  SourceLoc loc;
  IpAddr address;
  std::uint16_t port = 0;
  std::uint32_t fwmark = 0;
  std::string group;
  Located<std::uint32_t> delay_loop = 60u;
  Located<std::string> lb_algo = std::string("wlc");
  Located<LbKind> lb_kind = LbKind::nat;
  Located<Tunnel> tunnel;                               // lb_kind TUN only
  std::vector<Located<TunnelSourcePrefix>> tunnel_source;  // xlb: at most one per family
  Located<std::uint32_t> persistence_timeout = 0u;  // seconds, 0 = no persistence
  Located<std::uint8_t> persistence_granularity = std::uint8_t{255};  // prefix length, 255 = host
  Located<Protocol> protocol = Protocol::tcp;
  Located<std::optional<SorryServer>> sorry_server;
  Located<std::uint32_t> quorum = 1u;
  Located<std::string> quorum_up, quorum_down;
  Located<std::uint32_t> hysteresis = 0u;
  Located<bool> alpha = false, omega = false, inhibit_on_failure = false;
  Located<std::string> virtualhost;
  Located<std::optional<bool>> smtp_alert;
  Located<std::optional<LbBackend>> lb_backend;  // xlb: overrides global_defs lb_backend
  std::vector<RealServer> real_servers;
  bool operator==(const VirtualServer& o) const {
    return kind == o.kind && address == o.address && port == o.port && fwmark == o.fwmark &&
           group == o.group && delay_loop == o.delay_loop && lb_algo == o.lb_algo &&
           lb_kind == o.lb_kind && tunnel == o.tunnel && tunnel_source == o.tunnel_source &&
           persistence_timeout == o.persistence_timeout &&
           persistence_granularity == o.persistence_granularity && protocol == o.protocol &&
           sorry_server == o.sorry_server && quorum == o.quorum && quorum_up == o.quorum_up &&
           quorum_down == o.quorum_down && hysteresis == o.hysteresis && alpha == o.alpha &&
           omega == o.omega && inhibit_on_failure == o.inhibit_on_failure &&
           virtualhost == o.virtualhost && smtp_alert == o.smtp_alert &&
           lb_backend == o.lb_backend && real_servers == o.real_servers;
  }
};

struct VsGroupEntry {
  enum class Kind { address, fwmark };
  Kind kind = Kind::address;
  IpAddr first;
  IpAddr last;  // == first unless written as a range (10.0.0.1-10)
  std::uint16_t port = 0;
  std::uint32_t fwmark = 0;
  SourceLoc loc;
  bool operator==(const VsGroupEntry& o) const {
    return kind == o.kind && first == o.first && last == o.last && port == o.port && fwmark == o.fwmark;
  }
};

struct VirtualServerGroup {
  Located<std::string> name;
  std::vector<VsGroupEntry> entries;
  bool operator==(const VirtualServerGroup&) const = default;
};

struct Config {
  GlobalDefs global_defs;
  std::vector<VrrpScript> vrrp_scripts;
  std::vector<VrrpSyncGroup> vrrp_sync_groups;
  std::vector<VrrpInstance> vrrp_instances;
  std::vector<VirtualServerGroup> virtual_server_groups;
  std::vector<VirtualServer> virtual_servers;
  bool operator==(const Config&) const = default;
};

// The backend a virtual server runs on once `auto` is resolved: XDP unless it needs IPVS.
LbBackend effective_backend(const VirtualServer& vs, const GlobalDefs& g);
// Schedulers the XDP program implements.
bool xdp_supports_algo(const std::string& algo);

std::string to_string(LbKind k);
// "ipip", "gue port 6080 csum", ... as keepalived writes them after `type`.
std::string to_string(const Tunnel& t);
// Whether the XDP program can forward a virtual server of this kind: DR, and TUN by IPIP or GUE
// without remote checksum offload.
bool xdp_supports_forwarding(LbKind kind, const Tunnel& tunnel);
std::string to_string(LbBackend b);

}  // namespace xlb::config

namespace xlb::config {

// Where the XDP program must be attached by default: for every virtual server that runs on
// XDP, the `dev` of the virtual IP that matches its address, else that VIP's vrrp_instance
// interface. Virtual servers whose address is no configured VIP are listed in `unresolved`
// (the caller then asks the routing table which interface reaches their real servers).
struct XdpInterfaces {
  std::vector<std::string> names;  // sorted, unique
  std::vector<const VirtualServer*> unresolved;
};
XdpInterfaces xdp_interfaces(const Config& cfg);

}  // namespace xlb::config
