#include "mail_settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace xlb::notify {

namespace {

int parse_hhmm(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') throw std::invalid_argument("quiet hours: expected HH:MM, got '" + std::string(t) + "'");
  auto digit = [&](std::size_t i) {
    if (t[i] < '0' || t[i] > '9') throw std::invalid_argument("quiet hours: bad time '" + std::string(t) + "'");
    return t[i] - '0';
  };
  int h = digit(0) * 10 + digit(1);
  int m = digit(3) * 10 + digit(4);
  if (h > 23 || m > 59) throw std::invalid_argument("quiet hours: bad time '" + std::string(t) + "'");
  return h * 60 + m;
}

void check_address(const std::string& what, const std::string& a) {
  if (a.empty()) throw std::invalid_argument(what + " is empty");
  if (a.find('@') == std::string::npos) throw std::invalid_argument(what + " '" + a + "' has no '@'");
  for (unsigned char c : a)
    if (c <= ' ' || c == '<' || c == '>' || c == 0x7f || c == '(' || c == ')' || c == ',' || c == ';')
      throw std::invalid_argument(what + " '" + a + "' contains a character not allowed in an address");
}

}  // namespace

QuietHours QuietHours::parse(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) throw std::invalid_argument("quiet hours: expected HH:MM-HH:MM");
  QuietHours q{parse_hhmm(text.substr(0, dash)), parse_hhmm(text.substr(dash + 1))};
  if (q.start_minute == q.end_minute) throw std::invalid_argument("quiet hours: start and end are equal");
  return q;
}

bool QuietHours::contains(int m) const {
  if (start_minute < end_minute) return m >= start_minute && m < end_minute;
  return m >= start_minute || m < end_minute;  // wraps midnight
}

int QuietHours::minutes_until_end(int m) const {
  if (!contains(m)) return 0;
  return (end_minute - m + 1440) % 1440;
}

bool MailSettings::alert_vrrp(std::optional<bool> per_instance) const {
  if (per_instance) return *per_instance;
  return smtp_alert_vrrp.value_or(smtp_alert);
}

bool MailSettings::alert_checker(std::optional<bool> per_virtual_server) const {
  if (per_virtual_server) return *per_virtual_server;
  return smtp_alert_checker.value_or(smtp_alert);
}

std::string local_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

void MailSettings::finalize() {
  // Defaults come from the host name; one that is no valid DNS name (an unset "(none)") must
  // not stop xlbd from starting when nobody configured mail.
  std::string host = local_host_name();
  const bool host_ok = !host.empty() && host.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
  if (!host_ok) host = "localhost";
  if (smtp_helo_name.empty()) smtp_helo_name = host;
  if (notification_email_from.empty()) notification_email_from = "xlb@" + host;
  if (router_id.empty()) router_id = local_host_name();
  for (unsigned char c : smtp_helo_name)
    if (c <= ' ' || c >= 0x7f) throw std::invalid_argument("smtp_helo_name contains a space or control character");
  for (unsigned char c : smtp_server)
    if (c <= ' ' || c >= 0x7f) throw std::invalid_argument("smtp_server contains a space or control character");
  check_address("notification_email_from", notification_email_from);
  for (const auto& to : notification_email) check_address("notification_email", to);
  if (smtp_connect_timeout.count() <= 0) throw std::invalid_argument("smtp_connect_timeout must be positive");
  if (!smtp_password_file.empty() && smtp_auth_user.empty())
    throw std::invalid_argument("smtp_password_file is set but smtp_auth_user is not");
  if (!smtp_auth_user.empty() && smtp_password_file.empty())
    throw std::invalid_argument("smtp_auth_user needs smtp_password_file (passwords never go in the configuration)");
  if (!smtp_auth_user.empty() && smtp_tls == TlsMode::none)
    throw std::invalid_argument("smtp_auth_user needs smtp_tls starttls or implicit: the password would cross the network in clear");
  if (queue_capacity == 0 || max_attempts <= 0) throw std::invalid_argument("mail queue settings must be positive");
}

std::string load_password_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("smtp_password_file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error("smtp_password_file " + path + ": " + std::strerror(err));
  }
  auto refuse = [&](const std::string& why) {
    ::close(fd);
    throw std::runtime_error("smtp_password_file " + path + " refused: " + why);
  };
  if (!S_ISREG(st.st_mode)) refuse("not a regular file");
  if (st.st_uid != 0) refuse("not owned by root (uid " + std::to_string(st.st_uid) + ")");
  if (st.st_mode & 077) refuse("readable or writable by group or others; chmod 600 it");
  if (st.st_size > 4096) refuse("larger than 4096 bytes");
  std::string secret(static_cast<std::size_t>(st.st_size), '\0');
  ssize_t n = ::read(fd, secret.data(), secret.size());
  ::close(fd);
  if (n < 0) throw std::runtime_error("smtp_password_file " + path + ": read failed");
  secret.resize(static_cast<std::size_t>(n));
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) throw std::runtime_error("smtp_password_file " + path + " is empty");
  if (secret.find_first_of("\r\n", 0) != std::string::npos || secret.find('\0') != std::string::npos)
    throw std::runtime_error("smtp_password_file " + path + " holds more than one line");
  return secret;
}

}  // namespace xlb::notify
