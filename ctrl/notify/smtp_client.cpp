#include "smtp_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <memory>

#include <spdlog/spdlog.h>

#include "notify/mime.hpp"

namespace xlb::notify {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;
  std::string text() const {
    std::string t;
    for (const auto& l : lines) t += (t.empty() ? "" : " / ") + l;
    return t;
  }
};

// What a hostile server sent, made safe for a log line.
std::string printable(std::string_view s, std::size_t limit = 200) {
  std::string out;
  for (unsigned char c : s.substr(0, limit)) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  if (s.size() > limit) out += "...";
  return out;
}

ssl::context make_context(const SmtpConfig& cfg) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (cfg.tls_verify) {
    if (cfg.tls_ca_file.empty())
      ctx.set_default_verify_paths();
    else
      ctx.load_verify_file(cfg.tls_ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(const asio::any_io_executor& ex, const SmtpConfig& cfg)
      : cfg_(cfg), ctx_(make_context(cfg)), stream_(ex, ctx_), resolver_(ex), watchdog_(ex) {}

  asio::awaitable<std::vector<std::string>> deliver(const SmtpEnvelope& env) {
    co_await connect();
    if (cfg_.tls == TlsMode::implicit) co_await handshake();
    expect(co_await read_reply(), 2, "greeting", false);
    co_await hello();
    if (cfg_.tls == TlsMode::starttls) {
      if (!has_ext("STARTTLS")) throw SmtpError(cfg_.host + " does not offer STARTTLS", true);
      expect(co_await command("STARTTLS"), 2, "STARTTLS", false);
      // Anything the server sent before the handshake could be injected by a man in the middle.
      if (!rbuf_.empty()) throw SmtpError("data received ahead of the STARTTLS handshake", false);
      co_await handshake();
      co_await hello();
    }
    if (!cfg_.auth_user.empty()) co_await authenticate();

    expect(co_await command("MAIL FROM:<" + env.from + ">"), 2, "MAIL FROM", true);
    std::vector<std::string> accepted;
    Reply last;
    for (const auto& to : env.to) {
      last = co_await command("RCPT TO:<" + to + ">");
      if (last.code / 100 == 2)
        accepted.push_back(to);
      else
        spdlog::warn("smtp {}: recipient {} refused: {} {}", cfg_.host, to, last.code, printable(last.text()));
    }
    if (accepted.empty())
      throw SmtpError("no recipient accepted: " + std::to_string(last.code) + " " + printable(last.text()),
                      last.code / 100 == 5, last.code);
    expect(co_await command("DATA"), 3, "DATA", true);
    co_await write(dot_stuff(env.message));
    expect(co_await read_reply(), 2, "end of DATA", true);
    try {
      co_await command("QUIT");
    } catch (const std::exception&) {
      // The mail is delivered; a server that drops the line at QUIT changes nothing.
    }
    co_return accepted;
  }

 private:
  asio::awaitable<void> connect() {
    arm();
    auto endpoints = co_await resolver_.async_resolve(cfg_.host, std::to_string(cfg_.port), asio::use_awaitable);
    co_await asio::async_connect(stream_.next_layer(), endpoints, asio::use_awaitable);
    watchdog_.cancel();
  }

  asio::awaitable<void> handshake() {
    SSL* ssl = stream_.native_handle();
    boost::system::error_code ec;
    asio::ip::make_address(cfg_.host, ec);
    if (ec) SSL_set_tlsext_host_name(ssl, cfg_.host.c_str());  // SNI: names only
    if (cfg_.tls_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (!ec)
        X509_VERIFY_PARAM_set1_ip_asc(param, cfg_.host.c_str());
      else
        X509_VERIFY_PARAM_set1_host(param, cfg_.host.c_str(), 0);
    }
    arm();
    co_await stream_.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    watchdog_.cancel();
    tls_ = true;
  }

  asio::awaitable<void> hello() {
    Reply r = co_await command("EHLO " + cfg_.helo_name);
    ext_.clear();
    if (r.code / 100 == 2) {
      for (std::size_t i = 1; i < r.lines.size(); ++i) {
        std::string up = r.lines[i];
        std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
        ext_.push_back(up);
      }
      co_return;
    }
    expect(co_await command("HELO " + cfg_.helo_name), 2, "HELO", true);
  }

  bool has_ext(std::string_view name) const {
    for (const auto& e : ext_)
      if (e == name || (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == ' '))
        return true;
    return false;
  }
  bool has_auth(std::string_view mech) const {
    for (const auto& e : ext_) {
      if (e.rfind("AUTH", 0) != 0 || e.size() < 5 || (e[4] != ' ' && e[4] != '=')) continue;
      std::size_t pos = 5;
      while (pos < e.size()) {
        std::size_t end = e.find(' ', pos);
        if (end == std::string::npos) end = e.size();
        if (std::string_view(e).substr(pos, end - pos) == mech) return true;
        pos = end + 1;
      }
    }
    return false;
  }

  asio::awaitable<void> authenticate() {
    if (!tls_) throw SmtpError("AUTH refused without TLS", true);
    if (has_auth("PLAIN")) {
      std::string token = base64(std::string(1, '\0') + cfg_.auth_user + '\0' + cfg_.auth_password);
      expect(co_await command("AUTH PLAIN " + token, "AUTH PLAIN ****"), 2, "AUTH PLAIN", true, false);
    } else if (has_auth("LOGIN")) {
      expect(co_await command("AUTH LOGIN"), 3, "AUTH LOGIN", true, false);
      expect(co_await command(base64(cfg_.auth_user), "(user name)"), 3, "AUTH LOGIN user", true, false);
      expect(co_await command(base64(cfg_.auth_password), "****"), 2, "AUTH LOGIN password", true, false);
    } else {
      throw SmtpError(cfg_.host + " offers neither AUTH PLAIN nor AUTH LOGIN", true);
    }
  }

  // with_text = false for AUTH: a hostile server could echo our credentials into its reply,
  // and the error ends up in the log.
  void expect(const Reply& r, int klass, std::string_view step, bool five_is_permanent, bool with_text = true) const {
    if (r.code / 100 == klass) return;
    throw SmtpError(std::string(step) + ": " + std::to_string(r.code) +
                        (with_text ? " " + printable(r.text()) : std::string(" (reply text not logged)")),
                    five_is_permanent && r.code / 100 == 5, r.code);
  }

  asio::awaitable<Reply> command(const std::string& line, std::string_view log_as = {}) {
    spdlog::debug("smtp {} <- {}", cfg_.host, log_as.empty() ? std::string_view(line) : log_as);
    co_await write(line + "\r\n");
    co_return co_await read_reply();
  }

  asio::awaitable<Reply> read_reply() {
    Reply r;
    arm();
    for (std::size_t i = 0;; ++i) {
      if (i >= cfg_.max_lines) throw SmtpError("reply of more than " + std::to_string(cfg_.max_lines) + " lines", false);
      std::string line = co_await read_line();
      bool digits = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
                    std::isdigit(static_cast<unsigned char>(line[2]));
      if (!digits || (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
        throw SmtpError("malformed reply '" + printable(line) + "'", false);
      int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      if (i > 0 && code != r.code) throw SmtpError("reply code changed within a multiline reply", false);
      r.code = code;
      r.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
      if (line.size() == 3 || line[3] == ' ') break;
    }
    watchdog_.cancel();
    co_return r;
  }

  asio::awaitable<std::string> read_line() {
    for (;;) {
      std::size_t nl = rbuf_.find('\n');
      if (nl != std::string::npos) {
        if (nl > cfg_.max_line) break;
        std::string line = rbuf_.substr(0, nl);
        rbuf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        co_return line;
      }
      if (rbuf_.size() > cfg_.max_line) break;
      char buf[1024];
      std::size_t n = tls_ ? co_await stream_.async_read_some(asio::buffer(buf), asio::use_awaitable)
                           : co_await stream_.next_layer().async_read_some(asio::buffer(buf), asio::use_awaitable);
      rbuf_.append(buf, n);
    }
    throw SmtpError("reply line longer than " + std::to_string(cfg_.max_line) + " bytes", false);
  }

  asio::awaitable<void> write(const std::string& data) {
    arm();
    if (tls_)
      co_await asio::async_write(stream_, asio::buffer(data), asio::use_awaitable);
    else
      co_await asio::async_write(stream_.next_layer(), asio::buffer(data), asio::use_awaitable);
    watchdog_.cancel();
  }

  // One deadline per step: when it passes, the socket is closed and the pending operation fails.
  void arm() {
    watchdog_.expires_after(cfg_.timeout);
    watchdog_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->watchdog_.expiry() > asio::steady_timer::clock_type::now()) return;
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->stream_.next_layer().close(ignored);
      self->resolver_.cancel();
    });
  }

 public:
  bool timed_out() const { return timed_out_; }
  void close() {
    boost::system::error_code ignored;
    watchdog_.cancel();
    stream_.next_layer().close(ignored);
  }

 private:
  SmtpConfig cfg_;
  ssl::context ctx_;
  ssl::stream<tcp::socket> stream_;
  tcp::resolver resolver_;
  asio::steady_timer watchdog_;
  std::string rbuf_;
  std::vector<std::string> ext_;
  bool tls_ = false;
  bool timed_out_ = false;
};

}  // namespace

asio::awaitable<std::vector<std::string>> smtp_send(SmtpConfig config, SmtpEnvelope envelope) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<Session> session;
  try {
    session = std::make_shared<Session>(ex, config);
  } catch (const boost::system::system_error& e) {
    throw SmtpError(std::string("TLS setup: ") + e.what(), true);
  }
  std::string failure;
  try {
    auto accepted = co_await session->deliver(envelope);
    session->close();
    co_return accepted;
  } catch (const SmtpError&) {
    session->close();
    throw;
  } catch (const boost::system::system_error& e) {
    failure = session->timed_out() ? "timed out after " + std::to_string(config.timeout.count()) + " ms"
                                   : e.code().message();
  }
  session->close();
  throw SmtpError(config.host + ":" + std::to_string(config.port) + ": " + failure, false);
}

}  // namespace xlb::notify
