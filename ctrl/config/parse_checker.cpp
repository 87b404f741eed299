#include <algorithm>
#include <cctype>

#include "ctrl/config/parsers.hpp"

namespace xlb::config {
namespace {

constexpr auto S = Support::supported;
constexpr auto W = Support::warned;
using C = Checker;

bool is_http(const C& c) { return c.type == CheckerType::http_get || c.type == CheckerType::ssl_get; }

// Reports a keyword that belongs to another checker type; returns false then.
bool only_in(ParseContext& ctx, const Node& n, const C&, bool ok, const char* where) {
  if (!ok) ctx.diags().error(n.key.loc, "'" + n.key.text + "' is only valid in " + where);
  return ok;
}

void seconds(ParseContext& ctx, const Node& n, Located<std::uint32_t>& dst, std::int64_t lo) {
  if (auto v = ctx.integer(n.args[0], lo, 86400, n.key.text)) ctx.set(dst, static_cast<std::uint32_t>(*v), n);
}

void parse_status_codes(ParseContext& ctx, const Node& n, std::vector<StatusRange>& out) {
  for (const auto& t : n.args) {
    const auto dash = t.text.find('-');
    Token lo = t, hi = t;
    if (dash != std::string::npos) {
      lo.text = t.text.substr(0, dash);
      hi.text = t.text.substr(dash + 1);
      hi.loc.col += static_cast<std::uint32_t>(dash + 1);
    }
    auto a = ctx.integer(lo, 100, 599, "status_code");
    auto b = ctx.integer(hi, 100, 599, "status_code");
    if (!a || !b) continue;
    if (*b < *a) {
      ctx.diags().error(t.loc, "status_code range '" + t.text + "' ends before it starts");
      continue;
    }
    out.push_back({static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)});
  }
}

constexpr Keyword<UrlCheck> url_keywords[] = {
    {"path", S, false, 1, 1, [](ParseContext& c, const Node& n, UrlCheck& u) { c.set(u.path, n.args[0].text, n); }, "required"},
    {"digest", S, false, 1, 1,
     [](ParseContext& c, const Node& n, UrlCheck& u) {
       const std::string& d = n.args[0].text;
       if (d.size() != 32 || !std::all_of(d.begin(), d.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; })) {
         c.diags().error(n.args[0].loc, "'digest' expects 32 hexadecimal digits (an MD5 sum), got '" + d + "'");
         return;
       }
       c.set(u.digest, d, n);
     }, "none"},
    {"status_code", S, false, 1, many, [](ParseContext& c, const Node& n, UrlCheck& u) { parse_status_codes(c, n, u.status_code); }, "any 2xx"},
    {"virtualhost", S, false, 1, 1, [](ParseContext& c, const Node& n, UrlCheck& u) { c.set(u.virtualhost, n.args[0].text, n); }, "the checker's virtualhost"},
    {"regex", W, false, 1, many, nullptr},
    {"regex_no_match", W, false, 0, 0, nullptr},
    {"regex_options", W, false, 1, many, nullptr},
    {"regex_stack", W, false, 1, 2, nullptr},
    {"regex_min_offset", W, false, 1, 1, nullptr},
    {"regex_max_offset", W, false, 1, 1, nullptr},
};

constexpr Keyword<C> checker_keywords[] = {
    {"connect_ip", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (auto a = c.address(n.args[0], n.key.text)) c.set(ch.connect_ip, std::optional<IpAddr>(*a), n); }, "the real server"},
    {"connect_port", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (auto p = c.port(n.args[0], n.key.text)) c.set(ch.connect_port, *p, n); }, "the real server's port"},
    {"bindto", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (auto a = c.address(n.args[0], n.key.text)) c.set(ch.bindto, std::optional<IpAddr>(*a), n); }, "chosen by the kernel"},
    {"connect_timeout", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.connect_timeout, 1); }, "5"},
    {"retry", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.retry, 0); }, "1"},
    {"nb_get_retry", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.retry, 0); }, "1", false, "old name of retry"},
    {"delay_before_retry", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.delay_before_retry, 0); }, "1"},
    {"delay_loop", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.delay_loop, 1); }, "the virtual server's delay_loop"},
    {"warmup", S, false, 1, 1, [](ParseContext& c, const Node& n, C& ch) { seconds(c, n, ch.warmup, 0); }, "0"},
    {"url", S, true, 0, 0,
     [](ParseContext& c, const Node& n, C& ch) {
       if (!only_in(c, n, ch, is_http(ch), "HTTP_GET and SSL_GET")) return;
       UrlCheck u;
       u.loc = n.key.loc;
       c.dispatch<UrlCheck>(n.children, url_keywords, u, "url");
       if (!u.path.set) c.diags().error(n.key.loc, "url has no 'path'");
       else ch.url.push_back(std::move(u));
     }, "required in HTTP_GET/SSL_GET"},
    {"virtualhost", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, is_http(ch), "HTTP_GET and SSL_GET")) c.set(ch.virtualhost, n.args[0].text, n); }, "the virtual server's virtualhost"},
    {"sni_server_name", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::ssl_get, "SSL_GET")) c.set(ch.sni_server_name, n.args[0].text, n); }, "none"},
    {"misc_path", S, false, 1, many,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::misc_check, "MISC_CHECK")) c.set(ch.misc_path, ParseContext::joined(n), n); }, "required in MISC_CHECK"},
    {"misc_timeout", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::misc_check, "MISC_CHECK")) seconds(c, n, ch.misc_timeout, 1); }, "delay_loop"},
    {"misc_dynamic", S, false, 0, 0,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::misc_check, "MISC_CHECK")) c.set(ch.misc_dynamic, true, n); }, "off"},
    {"user", S, false, 1, 2,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::misc_check, "MISC_CHECK")) c.set(ch.user, n.args[0].text, n); }, "script_user"},
    {"type", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) {
       if (!only_in(c, n, ch, ch.type == CheckerType::dns_check, "DNS_CHECK")) return;
       if (c.choice(n.args[0], {"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"}, "DNS type", true)) {
         std::string t = n.args[0].text;
         for (auto& ch2 : t) ch2 = static_cast<char>(std::toupper(static_cast<unsigned char>(ch2)));
         c.set(ch.dns_type, t, n);
       }
     }, "SOA"},
    {"name", S, false, 1, 1,
     [](ParseContext& c, const Node& n, C& ch) { if (only_in(c, n, ch, ch.type == CheckerType::dns_check, "DNS_CHECK")) c.set(ch.dns_name, n.args[0].text, n); }, "."},
    {"bind_port", W, false, 1, 1, nullptr},
    {"bind_if", W, false, 1, 1, nullptr},
    {"fwmark", W, false, 1, 1, nullptr},
    {"log_all_failures", W, false, 0, 1, nullptr},
    {"http_protocol", W, false, 1, 1, nullptr, "", false, "checks speak HTTP/1.0"},
    {"enable_sni", W, false, 0, 0, nullptr, "", false, "SNI is sent when sni_server_name is set"},
    {"tls_compliant", W, false, 0, 0, nullptr},
    {"payload", W, false, 1, many, nullptr},
    {"require_reply", W, false, 0, many, nullptr},
};

}  // namespace

void parse_checker(ParseContext& ctx, const Node& n, CheckerType type, Checker& c) {
  c.type = type;
  c.loc = n.key.loc;
  ctx.dispatch<C>(n.children, checker_keywords, c, n.key.text);
  if (is_http(c) && c.url.empty()) ctx.diags().error(n.key.loc, n.key.text + " has no 'url' block");
  if (type == CheckerType::misc_check && !c.misc_path.set)
    ctx.diags().error(n.key.loc, "MISC_CHECK has no 'misc_path'");
}

void describe_checker(std::vector<KeywordInfo>& out) {
  describe<C>(out, "checker", checker_keywords);
  describe<UrlCheck>(out, "url", url_keywords);
}

}  // namespace xlb::config
