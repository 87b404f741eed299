#include "frame.hpp"

#include <cstring>

namespace xlb::pktgen {

std::uint32_t ones_sum(std::span<const std::uint8_t> bytes, std::uint32_t sum) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
  if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

std::uint16_t fold_checksum(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

namespace {

void put16(std::uint8_t* at, std::uint16_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value);
}

void put32(std::uint8_t* at, std::uint32_t value) {
  put16(at, static_cast<std::uint16_t>(value >> 16));
  put16(at + 2, static_cast<std::uint16_t>(value));
}

}  // namespace

std::vector<std::uint8_t> build_template(const Options& o, const MacAddress& src_mac) {
  std::vector<std::uint8_t> frame(o.buffer_size(), 0);
  std::uint8_t* p = frame.data();
  std::memcpy(p, o.dst_mac.data(), 6);
  std::memcpy(p + 6, src_mac.data(), 6);
  put16(p + 12, o.family == 4 ? 0x0800 : 0x86dd);

  const std::size_t l3 = 14;
  const std::size_t addr_len = o.family == 4 ? 4 : 16;
  const std::size_t l4 = l3 + (o.family == 4 ? 20 : 40);
  const std::size_t l4_len = frame.size() - l4;
  std::uint8_t* ip = p + l3;
  if (o.family == 4) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(frame.size() - l3));
    put16(ip + 6, 0x4000);  // DF: a generator's frames are never fragments
    ip[8] = 64;
    ip[9] = o.proto;
    std::memcpy(ip + 12, o.src_addr.data(), 4);
    std::memcpy(ip + 16, o.dst_addr.data(), 4);
    put16(ip + 10, fold_checksum(ones_sum({ip, 20})));
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<std::uint16_t>(l4_len));
    ip[6] = o.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, o.src_addr.data(), 16);
    std::memcpy(ip + 24, o.dst_addr.data(), 16);
  }

  std::uint8_t* t = p + l4;
  put16(t, o.src_port);
  put16(t + 2, o.dst_port);
  std::size_t check_at;
  if (o.proto == 6) {
    put32(t + 4, 0x78780001);  // sequence number: any fixed value
    t[12] = 5 << 4;            // data offset: 20 bytes, no options
    t[13] = 0x10;              // ACK; the program picks SYN or ACK per frame
    put16(t + 14, 65535);      // window
    check_at = 16;
  } else {
    put16(t + 4, static_cast<std::uint16_t>(l4_len));
    check_at = 6;
  }
  // A recognisable payload, so that a capture shows whose frames these are.
  static constexpr char kMark[] = "xlb-pktgen";
  std::size_t header = o.proto == 6 ? 20 : 8;
  for (std::size_t i = header; i < l4_len; ++i) t[i] = static_cast<std::uint8_t>(kMark[(i - header) % 10]);

  std::uint32_t sum = ones_sum({ip + (o.family == 4 ? 12 : 8), 2 * addr_len});
  sum += o.proto;
  sum += static_cast<std::uint32_t>(l4_len);
  sum = ones_sum({t, l4_len}, sum);
  std::uint16_t check = fold_checksum(sum);
  if (check == 0 && o.proto == 17) check = 0xffff;
  put16(t + check_at, check);
  return frame;
}

}  // namespace xlb::pktgen
