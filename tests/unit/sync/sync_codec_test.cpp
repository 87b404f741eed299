#include "ctrl/sync/sync_codec.hpp"

#include <gtest/gtest.h>

namespace xlb::sync {
namespace {

using boost::asio::ip::make_address;

SyncEntry v4_flow(std::uint16_t client_port) {
  SyncEntry e;
  e.kind = EntryKind::flow;
  e.protocol = 6;
  e.vip = make_address("198.18.0.100");
  e.vip_port = 80;
  e.service_port = 80;
  e.client = make_address("198.18.1.7");
  e.client_port = client_port;
  e.real = make_address("198.18.0.21");
  e.real_port = 80;
  return e;
}

SyncPacket sample() {
  SyncPacket p;
  p.header = {7, 0xdeadbeef, 1234567890123ULL, 42, 1765126800123ULL};
  p.entries.push_back(v4_flow(40000));
  SyncEntry v6;
  v6.kind = EntryKind::persist;
  v6.protocol = 17;
  v6.vip = make_address("2001:db8::100");
  v6.service_port = 0;
  v6.client = make_address("2001:db8:1::");
  v6.real = make_address("2001:db8::21");
  v6.real_port = 53;
  p.entries.push_back(v6);
  return p;
}

TEST(SyncCodec, RoundTripsV4AndV6Entries) {
  const auto key = derive_key("secret");
  const auto wire = encode(sample(), key);
  EXPECT_EQ(wire.size(), header_size + 2 * entry_size + mac_size);
  std::error_code ec;
  auto back = decode(wire, key, ec);
  ASSERT_TRUE(back) << ec.message();
  EXPECT_EQ(back->header.sync_id, 7u);
  EXPECT_EQ(back->header.sender, 0xdeadbeefu);
  EXPECT_EQ(back->header.epoch, 1234567890123ULL);
  EXPECT_EQ(back->header.sequence, 42u);
  EXPECT_EQ(back->header.sent_ms, 1765126800123ULL);
  EXPECT_EQ(back->entries, sample().entries);
}

// flow_sync_peers' join and bulk_done ride in the flags byte, covered by the MAC.
TEST(SyncCodec, FlagsRoundTripAndAreSealed) {
  const auto key = derive_key("secret");
  SyncPacket p;
  p.header = {7, 1, 2, 3, 4, sync_flag_join};
  auto wire = encode(p, key);
  EXPECT_EQ(wire.size(), header_size + mac_size);  // no entries: flags only
  std::error_code ec;
  auto back = decode(wire, key, ec);
  ASSERT_TRUE(back) << ec.message();
  EXPECT_EQ(back->header.flags, sync_flag_join);
  EXPECT_TRUE(back->entries.empty());
  wire[5] = sync_flag_bulk_done;  // forged: the MAC no longer matches
  EXPECT_FALSE(decode(wire, key, ec));
  EXPECT_EQ(ec, make_error_code(DecodeError::bad_mac));
}

TEST(SyncCodec, FullBatchFitsAnEthernetMtu) {
  SyncPacket p;
  for (std::uint16_t i = 0; i < max_entries_per_packet; ++i) p.entries.push_back(v4_flow(i));
  const auto wire = encode(p, derive_key("k"));
  EXPECT_LE(wire.size() + 40 + 8, 1500u);  // IPv6 + UDP headers
  p.entries.push_back(v4_flow(1));
  EXPECT_THROW(encode(p, derive_key("k")), std::invalid_argument);
}

TEST(SyncCodec, WrongKeyIsRefused) {
  const auto wire = encode(sample(), derive_key("secret"));
  std::error_code ec;
  EXPECT_FALSE(decode(wire, derive_key("Secret"), ec));
  EXPECT_EQ(ec, DecodeError::bad_mac);
}

TEST(SyncCodec, AnyFlippedBitIsRefused) {
  const auto key = derive_key("secret");
  const auto wire = encode(sample(), key);
  for (std::size_t i = 0; i < wire.size(); ++i) {
    auto bad = wire;
    bad[i] ^= 0x01;
    std::error_code ec;
    EXPECT_FALSE(decode(bad, key, ec)) << "byte " << i;
    EXPECT_TRUE(ec) << "byte " << i;
  }
}

TEST(SyncCodec, TruncatedAndPaddedDatagramsAreRefused) {
  const auto key = derive_key("secret");
  const auto wire = encode(sample(), key);
  std::error_code ec;
  EXPECT_FALSE(decode(std::span(wire).first(20), key, ec));
  EXPECT_EQ(ec, DecodeError::too_short);
  EXPECT_FALSE(decode(std::span(wire).first(wire.size() - 1), key, ec));
  EXPECT_EQ(ec, DecodeError::bad_length);
  auto longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(decode(longer, key, ec));
  EXPECT_EQ(ec, DecodeError::bad_length);
  auto other = wire;
  other[0] = 'Y';
  EXPECT_FALSE(decode(other, key, ec));
  EXPECT_EQ(ec, DecodeError::bad_magic);
}

TEST(SyncCodec, KeyDerivationIsDeterministicAndSecretDependent) {
  EXPECT_EQ(derive_key("auth_pass1"), derive_key("auth_pass1"));
  EXPECT_NE(derive_key("auth_pass1"), derive_key("auth_pass2"));
  EXPECT_NE(derive_key(""), SyncKey{});
}

// Version 1 (32-byte header, no sent_ms) cannot be bound to a time: a node of this version
// refuses it whatever its MAC, as malformed.
TEST(SyncCodec, TheVersionWithoutASendTimeIsRefused) {
  const auto key = derive_key("secret");
  auto wire = encode(sample(), key);
  wire[4] = 1;
  std::error_code ec;
  EXPECT_FALSE(decode(wire, key, ec));
  EXPECT_EQ(ec, DecodeError::bad_version);
}

}  // namespace
}  // namespace xlb::sync
