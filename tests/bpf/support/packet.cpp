#include "tests/bpf/support/packet.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace xlb::bpftest {

namespace {

constexpr std::size_t kEthLen = 14;
constexpr std::uint8_t kNextDestOpts = 60;
constexpr std::uint8_t kNextFragment = 44;

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(Bytes& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

void set16(Bytes& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 8);
  out[at + 1] = static_cast<std::uint8_t>(v);
}

void append(Bytes& out, const std::uint8_t* data, std::size_t len) { out.insert(out.end(), data, data + len); }

std::size_t addr_len(const Address& a) { return a.family == 4 ? 4 : 16; }

// One's-complement sum, folded, without the final inversion (so it can be chained).
std::uint32_t sum_bytes(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint32_t pseudo_header(const Address& src, const Address& dst, std::uint8_t proto, std::size_t l4_len) {
  std::uint32_t sum = sum_bytes(src.bytes.data(), addr_len(src));
  sum = sum_bytes(dst.bytes.data(), addr_len(dst), sum);
  sum += proto;
  sum += static_cast<std::uint32_t>(l4_len >> 16) + static_cast<std::uint32_t>(l4_len & 0xffff);
  return sum;
}

void ethernet(Bytes& out, const Mac& src, const Mac& dst, std::uint16_t type) {
  append(out, dst.data(), dst.size());
  append(out, src.data(), src.size());
  put16(out, type);
}

// IPv4 header (with options) for `l4_len` bytes of payload; the checksum is filled in.
void ipv4_header(Bytes& out, const Address& src, const Address& dst, std::uint8_t proto, std::size_t l4_len,
                 std::size_t options, std::uint16_t frag_field) {
  if (options % 4 || options > 40) throw std::invalid_argument("ipv4 options: multiple of 4, at most 40");
  const std::size_t start = out.size();
  const std::size_t hlen = 20 + options;
  out.push_back(static_cast<std::uint8_t>(0x40 | hlen / 4));
  out.push_back(0);
  put16(out, static_cast<std::uint16_t>(hlen + l4_len));
  put16(out, 0x1234);
  put16(out, frag_field);
  out.push_back(64);
  out.push_back(proto);
  put16(out, 0);
  append(out, src.bytes.data(), 4);
  append(out, dst.bytes.data(), 4);
  for (std::size_t i = 0; i < options; ++i) out.push_back(i + 1 == options ? 0 /* EOL */ : 1 /* NOP */);
  set16(out, start + 10, fold(sum_bytes(out.data() + start, hlen)));
}

void ipv6_header(Bytes& out, const Address& src, const Address& dst, std::uint8_t next, std::size_t payload_len) {
  put32(out, 0x60000000);
  put16(out, static_cast<std::uint16_t>(payload_len));
  out.push_back(next);
  out.push_back(64);
  append(out, src.bytes.data(), 16);
  append(out, dst.bytes.data(), 16);
}

// The transport header and payload, with its checksum over the pseudo-header.
Bytes transport(const PacketSpec& s) {
  Bytes l4;
  if (s.proto == kTcp) {
    put16(l4, s.sport);
    put16(l4, s.dport);
    put32(l4, 0x01020304);  // seq
    put32(l4, (s.tcp_flags & kTcpAck) ? 0x0a0b0c0d : 0);
    l4.push_back(5 << 4);
    l4.push_back(s.tcp_flags);
    put16(l4, 65535);
    put16(l4, 0);  // checksum
    put16(l4, 0);  // urgent
  } else if (s.proto == kUdp) {
    put16(l4, s.sport);
    put16(l4, s.dport);
    put16(l4, static_cast<std::uint16_t>(8 + s.payload));
    put16(l4, 0);
  } else {
    throw std::invalid_argument("build_packet: proto must be TCP or UDP");
  }
  for (std::size_t i = 0; i < s.payload; ++i) l4.push_back(static_cast<std::uint8_t>('a' + i % 26));
  const std::size_t csum_at = s.proto == kTcp ? 16 : 6;
  std::uint16_t csum = fold(sum_bytes(l4.data(), l4.size(), pseudo_header(s.src, s.dst, s.proto, l4.size())));
  if (s.proto == kUdp && csum == 0) csum = 0xffff;
  set16(l4, csum_at, csum);
  return l4;
}

}  // namespace

Address Address::parse(const std::string& text) {
  Address a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.family = 6;
  } else {
    throw std::invalid_argument("not an IP address: " + text);
  }
  return a;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::array<std::uint32_t, 4> Address::words() const {
  std::array<std::uint32_t, 4> w{};
  std::memcpy(w.data(), bytes.data(), family == 4 ? 4 : 16);
  return w;
}

Address client_v4(std::uint32_t index) {
  // 198.19.0.0/16: the half of the benchmarking range that VIPs and reals do not use.
  Address a;
  a.family = 4;
  const std::uint32_t host = 0xc6130000u + (index % 0x10000u);
  a.bytes = {static_cast<std::uint8_t>(host >> 24), static_cast<std::uint8_t>(host >> 16),
             static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host)};
  return a;
}

Address client_v6(std::uint32_t index) {
  Address a = Address::parse("2001:db8:c1::");
  for (int i = 0; i < 4; ++i) a.bytes[15 - i] = static_cast<std::uint8_t>(index >> (8 * i));
  return a;
}

Bytes build_packet(const PacketSpec& s) {
  if (s.src.family != s.dst.family) throw std::invalid_argument("build_packet: mixed address families");
  const bool later_fragment = s.fragment && s.fragment_offset > 0;
  Bytes l4;
  if (later_fragment) {
    for (std::size_t i = 0; i < s.payload; ++i) l4.push_back(static_cast<std::uint8_t>(i));
  } else {
    l4 = transport(s);
  }
  Bytes out;
  if (s.src.family == 4) {
    ethernet(out, s.src_mac, s.dst_mac, 0x0800);
    std::uint16_t frag = 0;
    if (s.fragment) {
      frag = static_cast<std::uint16_t>((s.more_fragments ? 0x2000 : 0) | (s.fragment_offset & 0x1fff));
    }
    ipv4_header(out, s.src, s.dst, s.proto, l4.size(), s.ipv4_options, frag);
  } else {
    ethernet(out, s.src_mac, s.dst_mac, 0x86dd);
    Bytes ext;
    std::uint8_t first = s.proto;
    if (s.fragment) {
      ext.push_back(s.proto);
      ext.push_back(0);
      put16(ext, static_cast<std::uint16_t>(s.fragment_offset << 3 | (s.more_fragments ? 1 : 0)));
      put32(ext, 0xabcdef01);
      first = kNextFragment;
    }
    if (s.ipv6_dest_options) {
      // Destination options, 8 bytes: a PadN option filling the header.
      Bytes opt{first, 0, 1, 4, 0, 0, 0, 0};
      ext.insert(ext.begin(), opt.begin(), opt.end());
      first = kNextDestOpts;
    }
    ipv6_header(out, s.src, s.dst, first, ext.size() + l4.size());
    out.insert(out.end(), ext.begin(), ext.end());
  }
  out.insert(out.end(), l4.begin(), l4.end());
  return out;
}

Bytes ip_part(const Bytes& frame) {
  if (frame.size() < kEthLen) throw std::invalid_argument("ip_part: frame shorter than Ethernet");
  return Bytes(frame.begin() + kEthLen, frame.end());
}

Bytes build_icmp4_frag_needed(const Mac& src_mac, const Mac& dst_mac, const Address& router, const Address& to,
                              const Bytes& quoted_ip, std::uint16_t mtu) {
  if (quoted_ip.size() < 20) throw std::invalid_argument("icmp4: quoted datagram too short");
  const std::size_t quoted_len = std::min(quoted_ip.size(), static_cast<std::size_t>((quoted_ip[0] & 0x0f) * 4 + 8));
  Bytes icmp{3, 4, 0, 0, 0, 0};  // destination unreachable, fragmentation needed
  put16(icmp, mtu);
  icmp.insert(icmp.end(), quoted_ip.begin(), quoted_ip.begin() + static_cast<std::ptrdiff_t>(quoted_len));
  set16(icmp, 2, fold(sum_bytes(icmp.data(), icmp.size())));
  Bytes out;
  ethernet(out, src_mac, dst_mac, 0x0800);
  ipv4_header(out, router, to, kIcmp, icmp.size(), 0, 0);
  out.insert(out.end(), icmp.begin(), icmp.end());
  return out;
}

Bytes build_icmp6_packet_too_big(const Mac& src_mac, const Mac& dst_mac, const Address& router, const Address& to,
                                 const Bytes& quoted_ip, std::uint32_t mtu) {
  // RFC 4443: quote as much as fits without the error exceeding the minimum MTU (1280).
  const std::size_t quoted_len = std::min(quoted_ip.size(), static_cast<std::size_t>(1280 - 40 - 8));
  Bytes icmp{2, 0, 0, 0};  // packet too big
  put32(icmp, mtu);
  icmp.insert(icmp.end(), quoted_ip.begin(), quoted_ip.begin() + static_cast<std::ptrdiff_t>(quoted_len));
  set16(icmp, 2, fold(sum_bytes(icmp.data(), icmp.size(), pseudo_header(router, to, kIcmpv6, icmp.size()))));
  Bytes out;
  ethernet(out, src_mac, dst_mac, 0x86dd);
  ipv6_header(out, router, to, kIcmpv6, icmp.size());
  out.insert(out.end(), icmp.begin(), icmp.end());
  return out;
}

Mac frame_dst_mac(const Bytes& frame) {
  Mac m{};
  if (frame.size() >= 6) std::memcpy(m.data(), frame.data(), 6);
  return m;
}

Mac frame_src_mac(const Bytes& frame) {
  Mac m{};
  if (frame.size() >= 12) std::memcpy(m.data(), frame.data() + 6, 6);
  return m;
}

std::string mac_str(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

}  // namespace xlb::bpftest
