#include "tun_packets.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace xlb::vmtest {

namespace {

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
std::uint32_t add_words(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  return sum;
}
void put16(std::uint8_t* p, std::uint16_t v) { p[0] = v >> 8, p[1] = v & 0xff; }
std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
bool is_v6(const std::string& address) { return address.find(':') != std::string::npos; }

// The pseudo-header sum of TCP/UDP over the IP header at ip (addresses, protocol, length).
std::uint32_t pseudo_sum(const std::uint8_t* ip, std::uint8_t proto, std::size_t len) {
  const bool v6 = (ip[0] >> 4) == 6;
  return add_words(ip + (v6 ? 8 : 12), v6 ? 32 : 8) + proto + static_cast<std::uint32_t>(len);
}

}  // namespace

Bytes crafted_syn(const std::string& src, const std::string& dst, std::uint16_t sport, std::uint16_t dport,
                  std::uint32_t seq, std::uint8_t tos) {
  const bool v6 = is_v6(src);
  const std::size_t ip_len = v6 ? 40 : 20;
  Bytes p(ip_len + 24, 0);
  if (v6) {
    const std::uint32_t flow = 0x5b000 | (sport & 0xff);  // the client's own label: not the outer one
    p[0] = 0x60 | tos >> 4;
    p[1] = static_cast<std::uint8_t>((tos & 0x0f) << 4 | flow >> 16);
    put16(&p[2], flow & 0xffff);
    put16(&p[4], 24);
    p[6] = 6;
    p[7] = 61;
    inet_pton(AF_INET6, src.c_str(), &p[8]);
    inet_pton(AF_INET6, dst.c_str(), &p[24]);
  } else {
    p[0] = 0x45;
    p[1] = tos;
    put16(&p[2], static_cast<std::uint16_t>(p.size()));
    p[4] = 0x51;  // id 0x5100 + low byte of the source port
    p[5] = static_cast<std::uint8_t>(sport);
    p[6] = 0x40;  // DF
    p[8] = 61;
    p[9] = 6;
    inet_pton(AF_INET, src.c_str(), &p[12]);
    inet_pton(AF_INET, dst.c_str(), &p[16]);
    put16(&p[10], fold(add_words(p.data(), 20)));
  }
  std::uint8_t* t = &p[ip_len];
  put16(t, sport);
  put16(t + 2, dport);
  for (int i = 0; i < 4; ++i) t[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  t[12] = 6 << 4;  // 24-byte header
  t[13] = 0x02;    // SYN
  put16(t + 14, 29200);
  t[20] = 2, t[21] = 4;  // MSS 1460
  put16(t + 22, 1460);
  put16(t + 16, fold(add_words(t, 24, pseudo_sum(p.data(), 6, 24))));
  return p;
}

Bytes hop_decremented(Bytes p) {
  if ((p[0] >> 4) == 6) {
    --p[7];
    return p;
  }
  --p[8];
  p[10] = p[11] = 0;
  put16(&p[10], fold(add_words(p.data(), 20)));
  return p;
}

std::string hex(const Bytes& b) {
  std::string s;
  char buf[3];
  for (std::uint8_t c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

std::string Outer::summary() const {
  std::ostringstream o;
  o << kind << " " << src << " > " << dst << " nh " << next_header << " hop " << hop << " tos " << tos;
  if (kind.find('6') != std::string::npos)
    o << " fl " << flow_label;
  else if (df)
    o << " DF";
  if (udp_dport) o << " udp dport " << udp_dport << " csum " << udp_csum;
  return o.str();
}

namespace {

// The outer header of a frame's packet (IPv4 or IPv6 by ethertype); the offset of the inner
// packet, or 0 when this is no tunnel packet of the lab's kinds.
std::size_t parse_outer(const std::uint8_t* ip, std::size_t len, bool v6, Outer& o) {
  char a[INET6_ADDRSTRLEN];
  std::size_t hlen;
  if (v6) {
    if (len < 40 || 40u + get16(ip + 4) > len) return 0;
    hlen = 40;
    o.tos = (ip[0] & 0x0f) << 4 | ip[1] >> 4;
    o.flow_label = (ip[1] & 0x0f) << 16 | get16(ip + 2);
    o.next_header = ip[6];
    o.hop = ip[7];
    o.src = inet_ntop(AF_INET6, ip + 8, a, sizeof a);
    o.dst = inet_ntop(AF_INET6, ip + 24, a, sizeof a);
  } else {
    if (len < 20 || get16(ip + 2) > len) return 0;
    hlen = (ip[0] & 0x0f) * 4u;
    o.tos = ip[1];
    o.df = ip[6] & 0x40;
    o.hop = ip[8];
    o.next_header = ip[9];
    o.src = inet_ntop(AF_INET, ip + 12, a, sizeof a);
    o.dst = inet_ntop(AF_INET, ip + 16, a, sizeof a);
  }
  const std::size_t total = v6 ? 40u + get16(ip + 4) : get16(ip + 2);
  switch (o.next_header) {
    case 4: o.kind = v6 ? "ip4ip6" : "ipip"; return hlen;
    case 41: o.kind = v6 ? "ip6ip6" : ""; return v6 ? hlen : 0;
    case 47: {  // GRE as IPVS sends it: no checksum, key or sequence, protocol IPv4 or IPv6
      if (v6 || total < hlen + 4 || get16(ip + hlen) != 0) return 0;
      const std::uint16_t proto = get16(ip + hlen + 2);
      if (proto != 0x0800 && proto != 0x86dd) return 0;
      o.kind = "gre";
      return hlen + 4;
    }
    case 17: {  // GUE version 0 without options, after UDP
      const std::uint8_t* udp = ip + hlen;
      if (total < hlen + 12 || (udp[8] & 0xff) != 0 || (udp[9] != 4 && udp[9] != 41)) return 0;
      o.kind = v6 ? "gue6" : "gue";
      o.udp_dport = get16(udp + 2);
      const std::size_t udp_len = get16(udp + 4);
      if (get16(udp + 6) == 0)
        o.udp_csum = "0";
      else
        o.udp_csum = fold(add_words(udp, udp_len, pseudo_sum(ip, 17, udp_len))) == 0 ? "ok" : "bad";
      return hlen + 12;
    }
    default: return 0;
  }
}

}  // namespace

void read_capture(const std::string& path, const std::string& real, std::map<std::uint32_t, Arrival>& out) {
  std::ifstream f(path, std::ios::binary);
  Bytes data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t at = 24;  // global header (native byte order: written on this machine)
  while (at + 16 <= data.size()) {
    std::uint32_t caplen;
    std::memcpy(&caplen, &data[at + 8], 4);
    const std::uint8_t* fr = &data[at + 16];
    at += 16 + caplen;
    if (at > data.size() || caplen < 14 + 20) continue;
    const std::uint16_t ethertype = get16(fr + 12);
    if (ethertype != 0x0800 && ethertype != 0x86dd) continue;
    Outer o;
    const std::size_t len = caplen - 14;
    const std::uint8_t* ip = fr + 14;
    const std::size_t skip = parse_outer(ip, len, ethertype == 0x86dd, o);
    if (skip == 0 || skip + 40 > len) continue;
    const std::uint8_t* in = ip + skip;
    const bool inner_v6 = (in[0] >> 4) == 6;
    if (inner_v6 && skip + 60 > len) continue;
    const std::size_t in_len = inner_v6 ? 40u + get16(in + 4) : get16(in + 2);
    if ((inner_v6 ? in[6] : in[9]) != 6 || skip + in_len > len) continue;
    const std::uint8_t* tcp = in + (inner_v6 ? 40 : (in[0] & 0x0f) * 4);
    const std::uint32_t seq = (tcp[4] << 24) | (tcp[5] << 16) | (tcp[6] << 8) | tcp[7];
    if ((seq & 0xffffff00) != kSeqBase || tcp[13] != 0x02) continue;
    out[seq] = Arrival{real, o, Bytes(in, in + in_len)};
  }
}

}  // namespace xlb::vmtest
