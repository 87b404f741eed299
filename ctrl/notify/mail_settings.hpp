// Mail alert settings: keepalived's global_defs mail keywords plus xlb's TLS, AUTH, digest and
// quiet-hours keywords. Filled by main.cpp from config::GlobalDefs (same names).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xlb::notify {

enum class TlsMode { none, starttls, implicit };

// A daily window in local time, HH:MM-HH:MM; it may wrap midnight (22:00-07:00).
struct QuietHours {
  int start_minute = 0;  // minutes after midnight
  int end_minute = 0;

  // Throws std::invalid_argument on anything but HH:MM-HH:MM with distinct ends.
  static QuietHours parse(std::string_view text);
  bool contains(int minute_of_day) const;
  // Minutes from minute_of_day until the window ends (0 when outside it).
  int minutes_until_end(int minute_of_day) const;
};

struct MailSettings {
  // keepalived keywords
  std::vector<std::string> notification_email;  // recipients
  std::string notification_email_from;          // empty: "xlb@<hostname>"
  std::string smtp_server;                      // host name or address; empty: no mail at all
  std::uint16_t smtp_port = 25;
  std::string smtp_helo_name;                   // empty: the host name
  std::chrono::seconds smtp_connect_timeout{30};
  bool smtp_alert = false;
  std::optional<bool> smtp_alert_vrrp;          // unset: follows smtp_alert
  std::optional<bool> smtp_alert_checker;       // unset: follows smtp_alert
  std::string router_id;                        // subject prefix, as keepalived's [router_id]

  // xlb keywords
  TlsMode smtp_tls = TlsMode::none;
  bool smtp_tls_verify = true;                  // certificate and host name checks
  std::string smtp_tls_ca_file;                 // empty: the system's CA store
  std::string smtp_auth_user;                   // empty: no AUTH
  std::string smtp_password_file;               // root-owned, mode 0600 or stricter
  std::chrono::seconds smtp_digest_window{0};   // 0: one mail per event
  std::optional<QuietHours> smtp_quiet_hours;

  // Delivery tuning (no keywords; defaults suit a relay that is down for minutes).
  std::size_t queue_capacity = 256;
  int max_attempts = 12;
  std::chrono::milliseconds retry_initial{std::chrono::seconds(5)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};

  bool mail_configured() const { return !smtp_server.empty() && !notification_email.empty(); }
  // keepalived's precedence: the per-instance / per-virtual-server smtp_alert when given, else
  // smtp_alert_vrrp / smtp_alert_checker, else smtp_alert.
  bool alert_vrrp(std::optional<bool> per_instance) const;
  bool alert_checker(std::optional<bool> per_virtual_server) const;

  // Fills defaults that depend on the host (from address, HELO name) and throws
  // std::invalid_argument with a sentence on values that would break SMTP (CR/LF or <> in an
  // address, AUTH without TLS, a password file without a user ...).
  void finalize();
};

// Reads the SMTP password. The file must be a regular file owned by root with no group or
// other permissions; anything else throws std::runtime_error naming the file (never its
// content). One trailing newline is removed.
std::string load_password_file(const std::string& path);

std::string local_host_name();

}  // namespace xlb::notify
