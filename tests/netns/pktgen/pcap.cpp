#include "pcap.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace xlb::pktgen::test {

std::vector<std::vector<std::uint8_t>> read_pcap(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  std::uint32_t header[6];
  if (!in.read(reinterpret_cast<char*>(header), sizeof(header))) return {};  // tcpdump saw nothing
  if (header[0] != 0xa1b2c3d4 && header[0] != 0xa1b23c4d) throw std::runtime_error("not a host-order pcap file");
  if (header[5] != 1) throw std::runtime_error("pcap link type is not Ethernet");
  std::vector<std::vector<std::uint8_t>> frames;
  std::uint32_t record[4];
  while (in.read(reinterpret_cast<char*>(record), sizeof(record))) {
    std::vector<std::uint8_t> frame(record[2]);
    if (!in.read(reinterpret_cast<char*>(frame.data()), frame.size())) break;
    if (record[3] != record[2]) throw std::runtime_error("truncated capture (snaplen)");
    frames.push_back(std::move(frame));
  }
  return frames;
}

namespace {

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
  if (n & 1) sum += std::uint32_t{p[n - 1]} << 8;
  return sum;
}

bool sums_to_ffff(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

}  // namespace

std::optional<ParsedFrame> parse_frame(const std::vector<std::uint8_t>& f) {
  ParsedFrame out;
  out.length = f.size();
  if (f.size() < 14) return std::nullopt;
  std::memcpy(out.dst_mac, f.data(), 6);
  const std::uint16_t type = get16(&f[12]);
  const std::uint8_t* ip = f.data() + 14;
  const std::size_t ip_room = f.size() - 14;
  const std::uint8_t* l4;
  std::size_t l4_len;
  std::uint32_t pseudo;
  char text[INET6_ADDRSTRLEN];
  if (type == 0x0800) {
    if (ip_room < 20 || (ip[0] >> 4) != 4) return std::nullopt;
    std::size_t ihl = (ip[0] & 0xf) * 4u;
    std::size_t total = get16(ip + 2);
    if (total > ip_room || ihl < 20 || total < ihl) return std::nullopt;
    out.family = 4;
    out.proto = ip[9];
    out.ip_checksum_ok = sums_to_ffff(sum16(ip, ihl));
    out.src = inet_ntop(AF_INET, ip + 12, text, sizeof(text));
    out.dst = inet_ntop(AF_INET, ip + 16, text, sizeof(text));
    l4 = ip + ihl;
    l4_len = total - ihl;
    pseudo = sum16(ip + 12, 8) + out.proto + static_cast<std::uint32_t>(l4_len);
  } else if (type == 0x86dd) {
    if (ip_room < 40) return std::nullopt;
    l4_len = get16(ip + 4);
    if (l4_len > ip_room - 40) return std::nullopt;
    out.family = 6;
    out.proto = ip[6];
    out.src = inet_ntop(AF_INET6, ip + 8, text, sizeof(text));
    out.dst = inet_ntop(AF_INET6, ip + 24, text, sizeof(text));
    l4 = ip + 40;
    pseudo = sum16(ip + 8, 32) + out.proto + static_cast<std::uint32_t>(l4_len);
  } else {
    return std::nullopt;
  }
  if (out.proto == 6 && l4_len >= 20) {
    out.tcp_flags = l4[13];
  } else if (out.proto != 17 || l4_len < 8) {
    return std::nullopt;
  }
  out.sport = get16(l4);
  out.dport = get16(l4 + 2);
  out.l4_checksum_ok = sums_to_ffff(sum16(l4, l4_len, pseudo));
  if (out.proto == 17 && get16(l4 + 6) == 0) out.l4_checksum_ok = out.family == 4;  // "no checksum"
  return out;
}

}  // namespace xlb::pktgen::test
