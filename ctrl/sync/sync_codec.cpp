#include "ctrl/sync/sync_codec.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace xlb::sync {
namespace {

constexpr std::string_view magic = "XLBS";
constexpr std::string_view key_label = "xlb-flow-sync-v1";

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { be(v, 2); }
  void u32(std::uint32_t v) { be(v, 4); }
  void u64(std::uint64_t v) { be(v, 8); }
  void address(const IpAddress& a) {
    std::array<std::uint8_t, 16> raw{};
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      std::memcpy(raw.data(), b.data(), 4);
    } else if (a.is_v6()) {
      raw = a.to_v6().to_bytes();
    }
    out_.insert(out_.end(), raw.begin(), raw.end());
  }

 private:
  void be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint8_t u8() { return in_[pos_++]; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(be(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(be(4)); }
  std::uint64_t u64() { return be(8); }
  std::array<std::uint8_t, 16> raw16() {
    std::array<std::uint8_t, 16> r{};
    std::memcpy(r.data(), in_.data() + pos_, 16);
    pos_ += 16;
    return r;
  }

 private:
  std::uint64_t be(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | in_[pos_++];
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

std::optional<IpAddress> to_address(std::uint8_t family, const std::array<std::uint8_t, 16>& raw) {
  if (family == 4) {
    boost::asio::ip::address_v4::bytes_type b{};
    std::memcpy(b.data(), raw.data(), 4);
    return IpAddress(boost::asio::ip::address_v4(b));
  }
  if (family == 6) return IpAddress(boost::asio::ip::address_v6(raw));
  return std::nullopt;
}

std::array<std::uint8_t, 32> hmac(const SyncKey& key, std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ==
      nullptr)
    throw std::runtime_error("flow sync: HMAC-SHA256 failed");
  return out;
}

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "xlb.sync"; }
  std::string message(int e) const override {
    switch (static_cast<DecodeError>(e)) {
      case DecodeError::too_short: return "datagram shorter than header and MAC";
      case DecodeError::bad_magic: return "not a flow-sync datagram";
      case DecodeError::bad_version: return "unsupported flow-sync version";
      case DecodeError::bad_length: return "length does not match the entry count";
      case DecodeError::bad_mac: return "authentication failed";
      case DecodeError::bad_entry: return "malformed entry";
    }
    return "unknown flow-sync error";
  }
};

}  // namespace

const std::error_category& decode_category() {
  static const Category category;
  return category;
}

SyncKey derive_key(std::string_view secret) {
  SyncKey key{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_label.data(), static_cast<int>(key_label.size()),
           reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), key.data(), &len) == nullptr)
    throw std::runtime_error("flow sync: key derivation failed");
  return key;
}

std::vector<std::uint8_t> encode(const SyncPacket& packet, const SyncKey& key) {
  if (packet.entries.size() > max_entries_per_packet)
    throw std::invalid_argument("flow sync: too many entries for one datagram");
  std::vector<std::uint8_t> out;
  out.reserve(header_size + packet.entries.size() * entry_size + mac_size);
  Writer w(out);
  for (char c : magic) w.u8(static_cast<std::uint8_t>(c));
  w.u8(wire_version);
  w.u8(packet.header.flags);
  w.u16(static_cast<std::uint16_t>(packet.entries.size()));
  w.u32(packet.header.sync_id);
  w.u32(packet.header.sender);
  w.u64(packet.header.epoch);
  w.u64(packet.header.sequence);
  w.u64(packet.header.sent_ms);
  for (const auto& e : packet.entries) {
    w.u8(static_cast<std::uint8_t>(e.kind));
    w.u8(e.vip.is_v6() ? 6 : 4);
    w.u8(e.protocol);
    w.u8(0);
    w.u16(e.vip_port);
    w.u16(e.service_port);
    w.address(e.vip);
    w.address(e.client);
    w.u16(e.client_port);
    w.u16(e.real_port);
    w.address(e.real);
    w.u8(e.real.is_v6() ? 6 : 4);
    w.u8(0);
    w.u16(0);
  }
  auto mac = hmac(key, out);
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

std::optional<SyncPacket> decode(std::span<const std::uint8_t> data, const SyncKey& key, std::error_code& ec) {
  ec.clear();
  if (data.size() < header_size + mac_size) return ec = DecodeError::too_short, std::nullopt;
  if (std::memcmp(data.data(), magic.data(), magic.size()) != 0) return ec = DecodeError::bad_magic, std::nullopt;
  if (data[4] != wire_version) return ec = DecodeError::bad_version, std::nullopt;
  const std::size_t count = (std::size_t{data[6]} << 8) | data[7];
  if (count > max_entries_per_packet || data.size() != header_size + count * entry_size + mac_size)
    return ec = DecodeError::bad_length, std::nullopt;
  auto body = data.first(data.size() - mac_size);
  auto expected = hmac(key, body);
  if (CRYPTO_memcmp(expected.data(), data.data() + body.size(), mac_size) != 0)
    return ec = DecodeError::bad_mac, std::nullopt;

  Reader r(body.subspan(8));
  SyncPacket p;
  p.header.flags = data[5];
  p.header.sync_id = r.u32();
  p.header.sender = r.u32();
  p.header.epoch = r.u64();
  p.header.sequence = r.u64();
  p.header.sent_ms = r.u64();
  for (std::size_t i = 0; i < count; ++i) {
    SyncEntry e;
    auto kind = r.u8();
    auto family = r.u8();
    e.protocol = r.u8();
    r.u8();
    e.vip_port = r.u16();
    e.service_port = r.u16();
    auto vip = r.raw16();
    auto client = r.raw16();
    e.client_port = r.u16();
    e.real_port = r.u16();
    auto real = r.raw16();
    auto real_family = r.u8();
    r.u8();
    r.u16();
    auto v = to_address(family, vip);
    auto c = to_address(family, client);
    auto rl = to_address(real_family, real);
    if ((kind != 1 && kind != 2) || !v || !c || !rl) return ec = DecodeError::bad_entry, std::nullopt;
    e.kind = static_cast<EntryKind>(kind);
    e.vip = *v;
    e.client = *c;
    e.real = *rl;
    p.entries.push_back(e);
  }
  return p;
}

}  // namespace xlb::sync
