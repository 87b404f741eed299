// What the health checker needs to know, independent of how the configuration was written.
// The lead maps keepalived keywords onto these structs; defaults follow keepalived 2.2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ctrl/dataplane/backend.hpp"

namespace xlb::check {

using IpAddress = boost::asio::ip::address;
using Millis = std::chrono::milliseconds;

enum class CheckKind { http_get, ssl_get, tcp, misc, dns, udp, ping };

const char* to_string(CheckKind kind);

// status_code 200-299 or status_code 200: an inclusive range.
struct StatusRange {
  int low = 200;
  int high = 299;
  auto operator<=>(const StatusRange&) const = default;
};

// One url { } block of HTTP_GET / SSL_GET.
struct UrlSettings {
  std::string path = "/";
  std::string digest;                     // lower-case hex MD5 of the body; empty = not checked
  std::vector<StatusRange> status_codes;  // empty = any 2xx (keepalived's default)
  auto operator<=>(const UrlSettings&) const = default;
};

// One checker block inside a real_server. Unset optionals inherit from the real server or
// the virtual server (connect_ip/connect_port default to the real's address and port,
// delay_loop to the virtual server's, retry to 1, delay_before_retry to 1 s).
struct CheckSettings {
  CheckKind kind = CheckKind::tcp;

  std::optional<IpAddress> connect_ip;
  std::optional<std::uint16_t> connect_port;
  std::optional<IpAddress> bindto;
  std::optional<std::uint16_t> bind_port;
  Millis connect_timeout{5000};
  std::optional<unsigned> retry;             // retry / nb_get_retry: extra attempts before down
  std::optional<Millis> delay_before_retry;  // default 1 s
  std::optional<Millis> delay_loop;          // default: the virtual server's delay_loop
  std::optional<Millis> warmup;              // random start delay in [0, warmup]

  // HTTP_GET / SSL_GET
  std::vector<UrlSettings> urls;
  std::string virtualhost;  // Host header; default "connect_ip:port"
  std::string sni;          // SSL_GET: server name sent in the ClientHello; empty = virtualhost
  bool enable_sni = true;

  // MISC_CHECK
  std::string misc_path;  // a command line, split like keepalived does (quotes respected)
  std::optional<Millis> misc_timeout;  // default: delay_loop
  bool misc_dynamic = false;           // exit 2..255 -> weight = code - 2
  std::string user;                    // run as this user; empty = the global script_user

  // DNS_CHECK
  std::string dns_type = "SOA";
  std::string dns_name = ".";

  // UDP_CHECK
  std::vector<std::uint8_t> payload;  // empty: one zero byte
  bool require_reply = false;         // up only if something comes back

  bool operator==(const CheckSettings&) const = default;
};

struct RealSettings {
  IpAddress address;
  std::uint16_t port = 0;
  std::uint32_t weight = 1;
  dataplane::Forwarding forwarding = dataplane::Forwarding::dr;
  std::optional<bool> inhibit_on_failure;  // default: the virtual server's
  std::string notify_up;                   // command lines; empty = none
  std::string notify_down;
  std::vector<CheckSettings> checks;  // none: always up (keepalived semantics)
  bool operator==(const RealSettings&) const = default;
};

struct VirtualServerSettings {
  std::string name;  // for logs and snapshots, e.g. "198.18.0.100:80"
  // key, scheduler, persistence, sorry_server (present = configured), active; `reals` ignored.
  dataplane::ServiceSpec spec;
  std::vector<RealSettings> reals;

  Millis delay_loop{60000};
  std::optional<Millis> warmup;
  bool alpha = false;  // reals start down until their first successful check
  bool omega = false;  // on shutdown run notify_down / quorum_down for what is still up
  bool inhibit_on_failure = false;
  std::uint32_t quorum = 1;
  std::uint32_t hysteresis = 0;
  std::string quorum_up;
  std::string quorum_down;
  bool operator==(const VirtualServerSettings&) const = default;
};

}  // namespace xlb::check
