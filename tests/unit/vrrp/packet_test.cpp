#include "ctrl/vrrp/packet.hpp"

#include <gtest/gtest.h>

namespace xlb::vrrp {
namespace {

using Bytes = std::vector<std::uint8_t>;
Address ip(const char* s) { return boost::asio::ip::make_address(s); }

Advert v2_advert() {
  Advert a;
  a.version = 2;
  a.vrid = 51;
  a.priority = 100;
  a.interval = Millis{1000};
  a.addresses = {ip("198.18.0.100")};
  return a;
}

Advert v3_advert4() {
  Advert a;
  a.version = 3;
  a.vrid = 51;
  a.priority = 100;
  a.interval = Millis{1000};
  a.addresses = {ip("198.18.0.100")};
  return a;
}

// Expected bytes below were computed independently (by hand and with a separate script).
TEST(VrrpPacket, V2NoAuthByteExact) {
  Bytes want = {0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0xb4, 0x53, 198, 18, 0, 100,
                0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(encode(v2_advert(), ip("198.18.0.1"), ip("224.0.0.18"), ChecksumMode::keepalived),
            want);
}

TEST(VrrpPacket, V2PassAuthByteExact) {
  Advert a = v2_advert();
  a.auth_type = 1;
  a.auth_data = pass_auth_data("secret");
  Bytes want = {0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x77, 0x07, 198, 18, 0, 100,
                's', 'e', 'c', 'r', 'e', 't', 0, 0};
  EXPECT_EQ(encode(a, ip("198.18.0.1"), ip("224.0.0.18"), ChecksumMode::keepalived), want);
}

TEST(VrrpPacket, V3Ipv4KeepalivedChecksumIncludesPseudoHeader) {
  Bytes want = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xfd, 0x4d, 198, 18, 0, 100};
  EXPECT_EQ(encode(v3_advert4(), ip("198.18.0.1"), ip("224.0.0.18"), ChecksumMode::keepalived),
            want);
}

TEST(VrrpPacket, V3Ipv4Rfc9568ChecksumWithoutPseudoHeader) {
  Bytes want = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xa3, 0xf0, 198, 18, 0, 100};
  EXPECT_EQ(encode(v3_advert4(), ip("198.18.0.1"), ip("224.0.0.18"), ChecksumMode::rfc9568),
            want);
}

TEST(VrrpPacket, V3Ipv6ByteExact) {
  Advert a;
  a.version = 3;
  a.vrid = 1;
  a.priority = 100;
  a.interval = Millis{1000};
  a.addresses = {ip("2001:db8::100")};
  Bytes want = {0x31, 0x01, 0x64, 0x01, 0x00, 0x64, 0x3d, 0xc1, 0x20, 0x01, 0x0d, 0xb8,
                0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x01, 0x00};
  // The mode only matters for IPv4: IPv6 always has the pseudo-header.
  EXPECT_EQ(encode(a, ip("fe80::1"), ip("ff02::12"), ChecksumMode::rfc9568), want);
  EXPECT_EQ(encode(a, ip("fe80::1"), ip("ff02::12"), ChecksumMode::keepalived), want);
}

TEST(VrrpPacket, RoundTripAllForms) {
  for (auto mode : {ChecksumMode::keepalived, ChecksumMode::rfc9568}) {
    for (Advert a : {v2_advert(), v3_advert4()}) {
      a.interval = a.version == 3 ? Millis{120} : Millis{3000};
      PacketMeta m{ip("198.18.0.1"), ip("198.18.0.2"), 255};
      auto bytes = encode(a, m.src, m.dst, mode);
      Advert back;
      ASSERT_EQ(decode(bytes, m, mode, back), DropReason::none);
      EXPECT_EQ(back, a);
    }
  }
}

TEST(VrrpPacket, ChecksumModesDoNotInteroperate) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  auto bytes = encode(v3_advert4(), m.src, m.dst, ChecksumMode::keepalived);
  Advert out;
  EXPECT_EQ(decode(bytes, m, ChecksumMode::rfc9568, out), DropReason::bad_checksum);
  // The pseudo-header binds the checksum to the addresses.
  PacketMeta other{ip("198.18.0.9"), ip("224.0.0.18"), 255};
  EXPECT_EQ(decode(bytes, other, ChecksumMode::keepalived, out), DropReason::bad_checksum);
}

TEST(VrrpPacket, DecodeRejectsMalformed) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  auto good = encode(v2_advert(), m.src, m.dst, ChecksumMode::keepalived);
  Advert out;
  EXPECT_EQ(decode(std::span(good).first(7), m, ChecksumMode::keepalived, out),
            DropReason::too_short);
  auto bad = good;
  bad[0] = 0x41;
  EXPECT_EQ(decode(bad, m, ChecksumMode::keepalived, out), DropReason::bad_version);
  bad = good;
  bad[0] = 0x22;
  EXPECT_EQ(decode(bad, m, ChecksumMode::keepalived, out), DropReason::bad_type);
  bad = good;
  bad[3] = 2;  // claims two addresses, carries one
  EXPECT_EQ(decode(bad, m, ChecksumMode::keepalived, out), DropReason::bad_length);
  bad = good;
  bad.push_back(0);
  EXPECT_EQ(decode(bad, m, ChecksumMode::keepalived, out), DropReason::bad_length);
  bad = good;
  bad[2] ^= 1;
  EXPECT_EQ(decode(bad, m, ChecksumMode::keepalived, out), DropReason::bad_checksum);
  // v2 exists only for IPv4.
  PacketMeta m6{ip("fe80::1"), ip("ff02::12"), 255};
  EXPECT_EQ(decode(good, m6, ChecksumMode::keepalived, out), DropReason::bad_version);
}

TEST(VrrpPacket, ParseIpv4) {
  Bytes pkt = {0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18};
  auto msg = encode(v2_advert(), ip("198.18.0.1"), ip("224.0.0.18"), ChecksumMode::keepalived);
  pkt.insert(pkt.end(), msg.begin(), msg.end());
  PacketMeta m;
  std::span<const std::uint8_t> payload;
  ASSERT_EQ(parse_ipv4(pkt, m, payload), DropReason::none);
  EXPECT_EQ(m.ttl, 255);
  EXPECT_EQ(m.src, ip("198.18.0.1"));
  EXPECT_EQ(m.dst, ip("224.0.0.18"));
  EXPECT_EQ(payload.size(), msg.size());
  pkt[3] = 60;  // total length beyond the buffer
  EXPECT_EQ(parse_ipv4(pkt, m, payload), DropReason::bad_ip_header);
  EXPECT_EQ(parse_ipv4(std::span(pkt).first(10), m, payload), DropReason::too_short);
}

Expectation expect_v2() {
  Expectation e;
  e.version = 2;
  e.vrid = 51;
  e.advert_int = Millis{1000};
  e.addresses = {ip("198.18.0.100")};
  return e;
}

TEST(VrrpPacket, ValidateMulticast) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  Expectation e = expect_v2();
  Advert a = v2_advert();
  EXPECT_EQ(validate(a, m, e), DropReason::none);
  PacketMeta routed = m;
  routed.ttl = 254;
  EXPECT_EQ(validate(a, routed, e), DropReason::bad_ttl);
  Advert x = a;
  x.vrid = 52;
  EXPECT_EQ(validate(x, m, e), DropReason::other_vrid);
  x = a;
  x.version = 3;
  EXPECT_EQ(validate(x, m, e), DropReason::bad_version);
  x = a;
  x.interval = Millis{2000};
  EXPECT_EQ(validate(x, m, e), DropReason::advert_int_mismatch);
  x = a;
  x.addresses = {ip("198.18.0.101")};
  EXPECT_EQ(validate(x, m, e), DropReason::address_mismatch);
  x.addresses = {ip("198.18.0.100"), ip("198.18.0.101")};
  EXPECT_EQ(validate(x, m, e), DropReason::address_mismatch);
}

// v3 backups adopt the master's interval, but only within a factor of 10 of their own: 0 cs made
// a backup flap, 4095 cs left the VIP unowned for minutes.
TEST(VrrpPacket, V3IntervalsFarFromOursAreNotAdopted) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  Expectation e = expect_v2();
  e.version = 3;
  e.advert_int = Millis{1000};
  Advert a = v2_advert();
  a.version = 3;
  a.auth_type = 0;
  for (int ms : {100, 250, 1000, 3000, 10000}) {
    a.interval = Millis{ms};
    EXPECT_EQ(validate(a, m, e), DropReason::none) << ms << " ms";
  }
  for (int ms : {0, 10, 90, 10010, 40950}) {
    a.interval = Millis{ms};
    EXPECT_EQ(validate(a, m, e), DropReason::advert_int_out_of_range) << ms << " ms";
  }
  EXPECT_EQ(to_string(DropReason::advert_int_out_of_range), "advert_int_out_of_range");
}

TEST(VrrpPacket, ValidateAddressListIsASet) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  Expectation e = expect_v2();
  e.addresses = {ip("198.18.0.100"), ip("198.18.0.101")};
  Advert a = v2_advert();
  a.addresses = {ip("198.18.0.101"), ip("198.18.0.100")};
  EXPECT_EQ(validate(a, m, e), DropReason::none);
}

TEST(VrrpPacket, ValidatePassAuth) {
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  Expectation e = expect_v2();
  e.auth_pass = "secret";
  Advert a = v2_advert();
  EXPECT_EQ(validate(a, m, e), DropReason::auth_mismatch);  // no auth at all
  a.auth_type = 1;
  a.auth_data = pass_auth_data("wrong");
  EXPECT_EQ(validate(a, m, e), DropReason::auth_mismatch);
  a.auth_data = pass_auth_data("secret");
  EXPECT_EQ(validate(a, m, e), DropReason::none);
  // Passwords longer than 8 bytes are cut, as keepalived does.
  EXPECT_EQ(pass_auth_data("0123456789"), pass_auth_data("01234567"));
}

TEST(VrrpPacket, ValidateUnicastTtlWindowAndSource) {
  Expectation e = expect_v2();
  e.multicast = false;
  e.peers = {PeerSettings{ip("198.18.1.2"), 250, 255}};
  Advert a = v2_advert();
  PacketMeta m{ip("198.18.1.2"), ip("198.18.0.1"), 252};
  EXPECT_EQ(validate(a, m, e), DropReason::none);
  m.ttl = 249;
  EXPECT_EQ(validate(a, m, e), DropReason::bad_ttl);
  PacketMeta stranger{ip("198.18.1.9"), ip("198.18.0.1"), 255};
  EXPECT_EQ(validate(a, stranger, e), DropReason::none);
  e.check_unicast_src = true;
  EXPECT_EQ(validate(a, stranger, e), DropReason::unknown_source);
}

TEST(VrrpPacket, ValidateV3AdoptsInterval) {
  Expectation e = expect_v2();
  e.version = 3;
  Advert a = v3_advert4();
  a.interval = Millis{250};
  PacketMeta m{ip("198.18.0.1"), ip("224.0.0.18"), 255};
  EXPECT_EQ(validate(a, m, e), DropReason::none);
}

}  // namespace
}  // namespace xlb::vrrp
