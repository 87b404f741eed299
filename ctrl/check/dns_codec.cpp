#include "ctrl/check/dns_codec.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace xlb::check::dns {

namespace {

struct TypeName {
  const char* name;
  std::uint16_t value;
};

constexpr TypeName type_names[] = {
    {"A", 1},      {"NS", 2},   {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},     {"MX", 15},
    {"TXT", 16},   {"AAAA", 28}, {"SRV", 33}, {"DS", 43},  {"RRSIG", 46},   {"DNSKEY", 48},
    {"HTTPS", 65}, {"CAA", 257}, {"ANY", 255}};

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> m) : m_(m) {}
  bool ok() const { return ok_; }
  std::size_t pos() const { return pos_; }
  std::uint16_t u16() {
    if (pos_ + 2 > m_.size()) return fail(), 0;
    std::uint16_t v = static_cast<std::uint16_t>(m_[pos_] << 8 | m_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t hi = u16();
    return hi << 16 | u16();
  }
  std::vector<std::uint8_t> bytes(std::size_t n) {
    if (pos_ + n > m_.size()) return fail(), std::vector<std::uint8_t>{};
    std::vector<std::uint8_t> v(m_.begin() + pos_, m_.begin() + pos_ + n);
    pos_ += n;
    return v;
  }
  // A possibly compressed name; pointers may only go backwards, which also bounds loops.
  std::string name() {
    std::string out;
    std::size_t at = pos_;
    bool jumped = false;
    for (int hops = 0; hops < 128; ++hops) {
      if (at >= m_.size()) return fail(), out;
      std::uint8_t len = m_[at];
      if (len == 0) {
        if (!jumped) pos_ = at + 1;
        return out.empty() ? "." : out;
      }
      if ((len & 0xc0) == 0xc0) {
        if (at + 1 >= m_.size()) return fail(), out;
        std::size_t target = static_cast<std::size_t>((len & 0x3f) << 8 | m_[at + 1]);
        if (target >= at) return fail(), out;
        if (!jumped) pos_ = at + 2;
        jumped = true;
        at = target;
        continue;
      }
      if ((len & 0xc0) != 0 || at + 1 + len > m_.size()) return fail(), out;
      out.append(reinterpret_cast<const char*>(&m_[at + 1]), len);
      out += '.';
      at += 1 + len;
    }
    return fail(), out;
  }

 private:
  void fail() { ok_ = false; }
  std::span<const std::uint8_t> m_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::optional<std::uint16_t> type_from_name(const std::string& name) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& t : type_names)
    if (upper == t.name) return t.value;
  return std::nullopt;
}

std::vector<std::uint8_t> encode_query(std::uint16_t id, const std::string& name,
                                       std::uint16_t type) {
  std::vector<std::uint8_t> out;
  put16(out, id);
  put16(out, 0x0100);  // standard query, recursion desired
  put16(out, 1);       // one question
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  std::size_t start = out.size();
  std::size_t i = 0;
  std::size_t end = name == "." ? 0 : name.size();
  while (i < end) {
    std::size_t dot = name.find('.', i);
    if (dot == std::string::npos) dot = name.size();
    std::size_t len = dot - i;
    if (len == 0 || len > 63) throw std::invalid_argument("bad DNS label in '" + name + "'");
    out.push_back(static_cast<std::uint8_t>(len));
    out.insert(out.end(), name.begin() + static_cast<long>(i), name.begin() + static_cast<long>(dot));
    i = dot + 1;
  }
  out.push_back(0);
  if (out.size() - start > 255) throw std::invalid_argument("DNS name too long: " + name);
  put16(out, type);
  put16(out, 1);  // class IN
  return out;
}

std::optional<Response> decode_response(std::span<const std::uint8_t> message) {
  Reader r(message);
  Response resp;
  resp.id = r.u16();
  std::uint16_t flags = r.u16();
  std::uint16_t qdcount = r.u16();
  std::uint16_t ancount = r.u16();
  r.u16();
  r.u16();
  if (!r.ok()) return std::nullopt;
  resp.is_response = (flags & 0x8000) != 0;
  resp.truncated = (flags & 0x0200) != 0;
  resp.rcode = static_cast<std::uint8_t>(flags & 0x000f);
  for (unsigned q = 0; q < qdcount; ++q) {
    std::string qname = r.name();
    std::uint16_t qtype = r.u16();
    r.u16();
    if (q == 0) {
      resp.question_name = std::move(qname);
      resp.question_type = qtype;
    }
  }
  for (unsigned a = 0; a < ancount && r.ok(); ++a) {
    Record rec;
    rec.name = r.name();
    rec.type = r.u16();
    rec.klass = r.u16();
    rec.ttl = r.u32();
    std::uint16_t rdlength = r.u16();
    rec.data = r.bytes(rdlength);
    if (r.ok()) resp.answers.push_back(std::move(rec));
  }
  if (!r.ok()) return std::nullopt;
  return resp;
}

}  // namespace xlb::check::dns
