#include "ctrl/vrrp/packet.hpp"

#include <algorithm>
#include <cstring>

namespace xlb::vrrp {
namespace {

constexpr std::uint8_t kTypeAdvert = 1;
constexpr std::size_t kHeaderLen = 8;

void put_address(std::vector<std::uint8_t>& out, const Address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  } else {
    auto b = a.to_v6().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  }
}

// v3 pseudo-header (RFC 5798 5.2.8): IPv6 always; IPv4 only in keepalived's form.
std::uint32_t pseudo_header_sum(const Address& src, const Address& dst, std::size_t len) {
  std::vector<std::uint8_t> ph;
  put_address(ph, src);
  put_address(ph, dst);
  if (src.is_v4()) {
    ph.push_back(0);
    ph.push_back(kIpProtoVrrp);
    ph.push_back(static_cast<std::uint8_t>(len >> 8));
    ph.push_back(static_cast<std::uint8_t>(len));
  } else {
    for (int shift : {24, 16, 8, 0}) ph.push_back(static_cast<std::uint8_t>(len >> shift));
    ph.insert(ph.end(), {0, 0, 0, kIpProtoVrrp});
  }
  return checksum_add(0, ph);
}

bool uses_pseudo_header(int version, const Address& src, ChecksumMode mode) {
  if (version != 3) return false;
  return src.is_v6() || mode == ChecksumMode::keepalived;
}

bool same_address_set(std::vector<Address> a, std::vector<Address> b) {
  if (a.size() != b.size()) return false;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::none: return "none";
    case DropReason::too_short: return "too_short";
    case DropReason::bad_ip_header: return "bad_ip_header";
    case DropReason::bad_ttl: return "bad_ttl";
    case DropReason::bad_version: return "bad_version";
    case DropReason::bad_type: return "bad_type";
    case DropReason::bad_checksum: return "bad_checksum";
    case DropReason::other_vrid: return "other_vrid";
    case DropReason::bad_length: return "bad_length";
    case DropReason::address_mismatch: return "address_mismatch";
    case DropReason::auth_mismatch: return "auth_mismatch";
    case DropReason::advert_int_mismatch: return "advert_int_mismatch";
    case DropReason::unknown_source: return "unknown_source";
    case DropReason::family_mismatch: return "family_mismatch";
    case DropReason::own_packet: return "own_packet";
    case DropReason::advert_int_out_of_range: return "advert_int_out_of_range";
    case DropReason::count_: break;
  }
  return "unknown";
}

std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> data) {
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += (std::uint32_t{data[i]} << 8) | data[i + 1];
  if (i < data.size()) sum += std::uint32_t{data[i]} << 8;
  return sum;
}

std::uint16_t checksum_fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::array<std::uint8_t, kAuthDataLen> pass_auth_data(std::string_view password) {
  std::array<std::uint8_t, kAuthDataLen> d{};
  std::memcpy(d.data(), password.data(), std::min(password.size(), d.size()));
  return d;
}

std::vector<std::uint8_t> encode(const Advert& a, const Address& src, const Address& dst,
                                 ChecksumMode mode) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderLen + a.addresses.size() * 16 + kAuthDataLen);
  out.push_back(static_cast<std::uint8_t>((a.version << 4) | kTypeAdvert));
  out.push_back(a.vrid);
  out.push_back(a.priority);
  out.push_back(static_cast<std::uint8_t>(a.addresses.size()));
  if (a.version == 2) {
    auto secs = std::clamp<long long>(a.interval.count() / 1000, 1, 255);
    out.push_back(a.auth_type);
    out.push_back(static_cast<std::uint8_t>(secs));
  } else {
    auto centis = std::clamp<long long>(a.interval.count() / 10, 1, 4095);
    out.push_back(static_cast<std::uint8_t>(centis >> 8));
    out.push_back(static_cast<std::uint8_t>(centis));
  }
  out.push_back(0);
  out.push_back(0);
  for (const auto& addr : a.addresses) put_address(out, addr);
  if (a.version == 2) out.insert(out.end(), a.auth_data.begin(), a.auth_data.end());
  std::uint32_t sum = uses_pseudo_header(a.version, src, mode)
                          ? pseudo_header_sum(src, dst, out.size())
                          : 0;
  std::uint16_t ck = checksum_fold(checksum_add(sum, out));
  out[6] = static_cast<std::uint8_t>(ck >> 8);
  out[7] = static_cast<std::uint8_t>(ck);
  return out;
}

DropReason decode(std::span<const std::uint8_t> msg, const PacketMeta& meta, ChecksumMode mode,
                  Advert& out) {
  if (msg.size() < kHeaderLen) return DropReason::too_short;
  int version = msg[0] >> 4;
  if (version != 2 && version != 3) return DropReason::bad_version;
  if ((msg[0] & 0x0f) != kTypeAdvert) return DropReason::bad_type;
  if (version == 2 && meta.src.is_v6()) return DropReason::bad_version;
  std::size_t count = msg[3];
  std::size_t addr_len = meta.src.is_v4() ? 4 : 16;
  std::size_t want = kHeaderLen + count * addr_len + (version == 2 ? kAuthDataLen : 0);
  // v2 senders that omit the auth data exist; RFC 3768 makes it part of the packet, so require it.
  if (msg.size() != want) return DropReason::bad_length;
  std::uint32_t sum = uses_pseudo_header(version, meta.src, mode)
                          ? pseudo_header_sum(meta.src, meta.dst, msg.size())
                          : 0;
  if (checksum_fold(checksum_add(sum, msg)) != 0) return DropReason::bad_checksum;

  out = Advert{};
  out.version = version;
  out.vrid = msg[1];
  out.priority = msg[2];
  if (version == 2) {
    out.auth_type = msg[4];
    out.interval = Millis{std::int64_t{msg[5]} * 1000};
  } else {
    out.interval = Millis{(((msg[4] & 0x0f) << 8) | msg[5]) * 10};
  }
  const std::uint8_t* p = msg.data() + kHeaderLen;
  for (std::size_t i = 0; i < count; ++i, p += addr_len) {
    if (addr_len == 4) {
      boost::asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), p, 4);
      out.addresses.emplace_back(boost::asio::ip::address_v4(b));
    } else {
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), p, 16);
      out.addresses.emplace_back(boost::asio::ip::address_v6(b));
    }
  }
  if (version == 2) std::memcpy(out.auth_data.data(), p, kAuthDataLen);
  return DropReason::none;
}

DropReason parse_ipv4(std::span<const std::uint8_t> pkt, PacketMeta& meta,
                      std::span<const std::uint8_t>& payload) {
  if (pkt.size() < 20) return DropReason::too_short;
  if ((pkt[0] >> 4) != 4) return DropReason::bad_ip_header;
  std::size_t ihl = std::size_t{pkt[0] & 0x0fu} * 4;
  std::size_t total = (std::size_t{pkt[2]} << 8) | pkt[3];
  if (ihl < 20 || ihl > pkt.size() || total < ihl || total > pkt.size())
    return DropReason::bad_ip_header;
  if (pkt[9] != kIpProtoVrrp) return DropReason::bad_ip_header;
  meta.ttl = pkt[8];
  boost::asio::ip::address_v4::bytes_type s, d;
  std::memcpy(s.data(), &pkt[12], 4);
  std::memcpy(d.data(), &pkt[16], 4);
  meta.src = boost::asio::ip::address_v4(s);
  meta.dst = boost::asio::ip::address_v4(d);
  payload = pkt.subspan(ihl, total - ihl);
  return DropReason::none;
}

DropReason validate(const Advert& a, const PacketMeta& meta, const Expectation& e) {
  if (a.version != e.version) return DropReason::bad_version;
  if (a.vrid != e.vrid) return DropReason::other_vrid;
  if (!e.addresses.empty() && e.addresses.front().is_v4() != meta.src.is_v4())
    return DropReason::family_mismatch;
  const PeerSettings* peer = nullptr;
  for (const auto& p : e.peers)
    if (p.address == meta.src) peer = &p;
  if (e.multicast || !peer) {
    // A multicast advert, or one from a source we do not know: must not have crossed a router.
    if (!e.multicast && e.check_unicast_src) return DropReason::unknown_source;
    if (meta.ttl != 255) return DropReason::bad_ttl;
  } else if (meta.ttl < peer->min_ttl || meta.ttl > peer->max_ttl) {
    return DropReason::bad_ttl;
  }
  if (a.version == 2) {
    std::uint8_t want_type = e.auth_pass.empty() ? 0 : 1;
    if (a.auth_type != want_type) return DropReason::auth_mismatch;
    if (want_type == 1 && a.auth_data != pass_auth_data(e.auth_pass))
      return DropReason::auth_mismatch;
    // RFC 3768 6.4.3: a v2 advert with another interval is discarded (v3 adopts it instead).
    if (a.interval != e.advert_int) return DropReason::advert_int_mismatch;
  } else if (a.interval.count() == 0 || a.interval > e.advert_int * kLearnedAdvertIntFactor ||
             a.interval * kLearnedAdvertIntFactor < e.advert_int) {
    return DropReason::advert_int_out_of_range;
  }
  // Priority 0 adverts come from a master leaving; their address list still has to match.
  if (!same_address_set(a.addresses, e.addresses)) return DropReason::address_mismatch;
  return DropReason::none;
}

}  // namespace xlb::vrrp
