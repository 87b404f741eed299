#include <gtest/gtest.h>

#include "ctrl/check/dns_codec.hpp"

namespace xlb::check::dns {
namespace {

TEST(DnsCodec, EncodesQueryWireFormat) {
  auto q = encode_query(0x1234, "www.example.test", 28);
  std::vector<std::uint8_t> want{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                 4, 't', 'e', 's', 't', 0, 0, 28, 0, 1};
  EXPECT_EQ(q, want);
  auto root = encode_query(1, ".", 6);
  EXPECT_EQ(root.size(), 12u + 1 + 4);
  EXPECT_EQ(encode_query(1, "example.test.", 1), encode_query(1, "example.test", 1));
  EXPECT_THROW(encode_query(1, "a..b", 1), std::invalid_argument);
  EXPECT_THROW(encode_query(1, std::string(64, 'a'), 1), std::invalid_argument);
}

TEST(DnsCodec, TypeNames) {
  EXPECT_EQ(type_from_name("a"), 1);
  EXPECT_EQ(type_from_name("AAAA"), 28);
  EXPECT_EQ(type_from_name("soa"), 6);
  EXPECT_FALSE(type_from_name("BOGUS"));
}

TEST(DnsCodec, DecodesResponseWithCompressedAnswer) {
  auto m = encode_query(0xbeef, "example.test", 1);
  m[2] = 0x81;  // QR, RD
  m[3] = 0x80;  // RA, rcode 0
  m[7] = 1;     // ancount
  std::vector<std::uint8_t> answer{0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 18, 0, 53};
  m.insert(m.end(), answer.begin(), answer.end());
  auto r = decode_response(m);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 0xbeef);
  EXPECT_TRUE(r->is_response);
  EXPECT_EQ(r->rcode, 0);
  EXPECT_EQ(r->question_name, "example.test.");
  EXPECT_EQ(r->question_type, 1);
  ASSERT_EQ(r->answers.size(), 1u);
  EXPECT_EQ(r->answers[0].name, "example.test.");
  EXPECT_EQ(r->answers[0].ttl, 3600u);
  EXPECT_EQ(r->answers[0].data, (std::vector<std::uint8_t>{198, 18, 0, 53}));
}

TEST(DnsCodec, RejectsMalformed) {
  auto m = encode_query(1, "example.test", 1);
  m[7] = 1;  // claims an answer that is not there
  EXPECT_FALSE(decode_response(m));
  std::vector<std::uint8_t> short_header{0, 1, 0x80};
  EXPECT_FALSE(decode_response(short_header));
  auto loop = encode_query(1, "x", 1);
  loop[12] = 0xc0;  // pointer to itself
  loop[13] = 12;
  EXPECT_FALSE(decode_response(loop));
}

}  // namespace
}  // namespace xlb::check::dns
