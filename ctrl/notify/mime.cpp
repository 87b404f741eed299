#include "mime.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace xlb::notify {

namespace {

bool plain_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return s.find("=?") == std::string_view::npos;
}

// Length of the UTF-8 sequence starting with lead byte c (1 for invalid bytes, which are then
// carried through as single bytes rather than dropped).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xf0 && c <= 0xf4) return 4;
  if (c >= 0xe0) return c <= 0xef ? 3 : 1;
  if (c >= 0xc2) return 2;
  return 1;
}

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  return out;
}

}  // namespace

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string encode_header_text(std::string_view utf8) {
  std::string text = one_line(utf8);
  if (plain_ascii(text) && text.size() <= 66) return text;
  // 39 bytes -> 52 base64 characters -> 64-character encoded word: "Subject: " + word < 76.
  constexpr std::size_t chunk = 39;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    while (end < text.size()) {
      std::size_t len = utf8_len(static_cast<unsigned char>(text[end]));
      if (end + len > text.size()) len = text.size() - end;
      if (end - i + len > chunk) break;
      end += len;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(std::string_view(text).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t col = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      bool last = i + 1 == line.size();
      std::string piece;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
        piece = static_cast<char>(c);
      } else {
        piece = {'=', hex[c >> 4], hex[c & 15]};
      }
      if (col + piece.size() > 75) {  // soft line break keeps every line <= 76
        out += "=\r\n";
        col = 0;
      }
      out += piece;
      col += piece.size();
    }
    if (nl == std::string_view::npos) break;
    out += "\r\n";
    pos = nl + 1;
  }
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  long off = tm.tm_gmtoff / 60;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
  return buf;
}

std::string make_message_id(std::string_view domain, std::chrono::system_clock::time_point t) {
  unsigned char rnd[12];
  if (RAND_bytes(rnd, sizeof rnd) != 1) {
    // Uniqueness, not secrecy, is what matters here; fall back on the address of a local.
    auto v = reinterpret_cast<std::uintptr_t>(&rnd) ^ static_cast<std::uintptr_t>(t.time_since_epoch().count());
    for (auto& b : rnd) b = static_cast<unsigned char>(v), v = (v >> 8) | (v << 56);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : rnd) id += hex[b >> 4], id += hex[b & 15];
  id += "." + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  id += "@";
  id += domain.empty() ? "localhost" : std::string(domain);
  return id;
}

std::string build_message(const MessageSpec& m) {
  std::string out;
  out += "From: " + m.from + "\r\n";
  out += "To: ";
  for (std::size_t i = 0; i < m.to.size(); ++i) out += (i ? ",\r\n " : "") + m.to[i];
  out += "\r\n";
  out += "Subject: " + encode_header_text(m.subject) + "\r\n";
  out += "Date: " + rfc5322_date(m.date) + "\r\n";
  out += "Message-ID: <" + m.message_id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "X-Mailer: xlb\r\n";
  out += "\r\n";
  out += quoted_printable(m.body);
  return out;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\r') {
      // A bare CR is not allowed in SMTP; CR LF stays, a lone CR becomes CR LF.
      out += "\r\n";
      if (i + 1 < message.size() && message[i + 1] == '\n') ++i;
      line_start = true;
      continue;
    }
    if (c == '\n') {
      out += "\r\n";
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace xlb::notify
