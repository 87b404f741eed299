// HTTP_GET / SSL_GET: one connection per url, each must answer with an accepted status code
// and, when a digest is configured, a body whose MD5 matches.
#include <openssl/evp.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <cstdio>

#include "ctrl/check/deadline.hpp"
#include "ctrl/check/probes.hpp"
#include "ctrl/check/socket_util.hpp"

namespace xlb::check {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr std::uint64_t body_limit = 16 * 1024 * 1024;

std::string md5_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1) return {};
  std::string hex;
  hex.reserve(length * 2);
  char byte[3];
  for (unsigned i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

bool status_accepted(const UrlSettings& url, int status) {
  if (url.status_codes.empty()) return status >= 200 && status <= 299;
  for (const auto& range : url.status_codes)
    if (status >= range.low && status <= range.high) return true;
  return false;
}

std::string host_header(const CheckSettings& check) {
  if (!check.virtualhost.empty()) return check.virtualhost;
  const auto& ip = check.connect_ip.value();
  std::string host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  return host + ":" + std::to_string(check.connect_port.value());
}

// Sends the request and judges the response; `stream` is connected (and TLS-established).
template <typename Stream>
asio::awaitable<std::string> exchange(Stream& stream, const CheckSettings& check,
                                      const UrlSettings& url) {
  http::request<http::empty_body> request{http::verb::get, url.path, 11};
  request.set(http::field::host, host_header(check));
  request.set(http::field::user_agent, "xlb-health-check");
  request.set(http::field::connection, "close");
  boost::system::error_code ec;
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "write: " + ec.message();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  // A server that closes without a TLS close_notify still sent a complete response.
  if (ec && !(ec == asio::ssl::error::stream_truncated && parser.is_done()))
    co_return "read: " + ec.message();
  const auto& response = parser.get();
  int status = static_cast<int>(response.result_int());
  if (!status_accepted(url, status)) co_return "status " + std::to_string(status);
  if (!url.digest.empty()) {
    std::string actual = md5_hex(response.body());
    if (!boost::iequals(actual, url.digest)) co_return "digest " + actual + " != " + url.digest;
  }
  co_return std::string{};
}

asio::awaitable<std::string> fetch(const CheckSettings& check, const UrlSettings& url,
                                   asio::ssl::context* tls) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(ex);
  Deadline deadline(ex, check.connect_timeout, [&socket] {
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  auto ec = co_await connect_tcp(socket, check);
  if (deadline.expired()) co_return "connect timeout";
  if (ec) co_return "connect: " + ec.message();
  std::string error;
  if (tls == nullptr) {
    error = co_await exchange(socket, check, url);
  } else {
    asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, *tls);
    const std::string& name = check.sni.empty() ? check.virtualhost : check.sni;
    if (check.enable_sni && !name.empty())
      SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
    co_await stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      error = "tls handshake: " + ec.message();
    } else {
      error = co_await exchange(stream, check, url);
    }
  }
  if (deadline.expired()) error = "timeout (" + error + ")";
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return error;
}

}  // namespace

asio::awaitable<ProbeResult> probe_http(const CheckSettings& check, asio::ssl::context* tls) {
  auto start = std::chrono::steady_clock::now();
  ProbeResult result;
  std::vector<UrlSettings> urls = check.urls;
  if (urls.empty()) urls.emplace_back();
  for (const auto& url : urls) {
    std::string error = co_await fetch(check, url, tls);
    if (!error.empty()) {
      result.error = url.path + ": " + error;
      result.latency = elapsed_since(start);
      co_return result;
    }
  }
  result.up = true;
  result.latency = elapsed_since(start);
  co_return result;
}

}  // namespace xlb::check
