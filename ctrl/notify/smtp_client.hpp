// One SMTP transaction over Asio + OpenSSL: connect, optional implicit TLS, EHLO (HELO when
// EHLO is refused), STARTTLS, AUTH PLAIN or LOGIN, MAIL, RCPT, DATA, QUIT.
//
// The server is not trusted: a reply line longer than max_line, a reply of more than max_lines
// lines, a malformed or inconsistent code, data sent ahead of a STARTTLS handshake, or a reply
// that takes longer than the timeout ends the session with an SmtpError; memory use is bounded
// by max_line * max_lines.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "notify/mail_settings.hpp"
#include "xlb/asio.hpp"

namespace xlb::notify {

struct SmtpConfig {
  std::string host;
  std::uint16_t port = 25;
  std::string helo_name = "localhost";
  TlsMode tls = TlsMode::none;
  bool tls_verify = true;
  std::string tls_ca_file;  // empty: system store
  std::string auth_user;    // empty: no AUTH
  std::string auth_password;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // connect, and each reply
  std::size_t max_line = 2048;  // RFC 5321 allows 512; be lenient but bounded
  std::size_t max_lines = 64;
};

class SmtpError : public std::runtime_error {
 public:
  // permanent: a 5xx answer (or a configuration mismatch such as no STARTTLS offered);
  // retrying the same mail would fail again.
  SmtpError(const std::string& what, bool permanent, int code = 0)
      : std::runtime_error(what), permanent_(permanent), code_(code) {}
  bool permanent() const { return permanent_; }
  int code() const { return code_; }

 private:
  bool permanent_;
  int code_;
};

struct SmtpEnvelope {
  std::string from;
  std::vector<std::string> to;
  std::string message;  // build_message() output; dot-stuffed here
};

// Delivers one message. Throws SmtpError on any failure; returns the recipients the server
// accepted (at least one).
boost::asio::awaitable<std::vector<std::string>> smtp_send(SmtpConfig config, SmtpEnvelope envelope);

}  // namespace xlb::notify
