#include "e2b/connect_envelope.h"

#include <gtest/gtest.h>

namespace kiln::e2b {
namespace {

TEST(ConnectEnvelope, EncodesFlagsAndBigEndianLength) {
  std::string e = encode_envelope(0, std::string(300, 'x'));
  ASSERT_EQ(e.size(), 305u);
  EXPECT_EQ(e[0], 0);
  EXPECT_EQ(static_cast<unsigned char>(e[3]), 1);  // 300 = 0x012c
  EXPECT_EQ(static_cast<unsigned char>(e[4]), 0x2c);
}

TEST(ConnectEnvelope, EndStreamCarriesTheError) {
  std::string ok = end_stream_envelope();
  EXPECT_EQ(ok[0], kEnvelopeEndStream);
  EXPECT_EQ(ok.substr(5), "{}");
  std::string err = end_stream_envelope("not_found", "no such pid");
  auto j = nlohmann::json::parse(err.substr(5));
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(j["error"]["message"], "no such pid");
}

TEST(ConnectEnvelope, DecodesWhatItEncodes) {
  nlohmann::json m = {{"process", {{"cmd", "/bin/bash"}}}, {"stdin", false}};
  auto d = decode_request_envelope(message_envelope(m), 1024);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(*d, m);
}

TEST(ConnectEnvelope, RefusesWhatIsNotOneBoundedMessage) {
  const std::string good = message_envelope({{"a", 1}});
  EXPECT_FALSE(decode_request_envelope("", 1024).is_ok());
  EXPECT_FALSE(decode_request_envelope(good.substr(0, 4), 1024).is_ok());
  EXPECT_FALSE(decode_request_envelope(good + "x", 1024).is_ok());  // trailing bytes
  EXPECT_FALSE(decode_request_envelope(good.substr(0, good.size() - 1), 1024).is_ok());
  std::string compressed = good;
  compressed[0] = kEnvelopeCompressed;
  EXPECT_FALSE(decode_request_envelope(compressed, 1024).is_ok());
  EXPECT_EQ(decode_request_envelope(good, 3).status().kind(), ErrorKind::kTooLarge);
  EXPECT_FALSE(decode_request_envelope(encode_envelope(0, "[1]"), 1024).is_ok());  // not an object
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(decode_request_envelope(encode_envelope(0, "{\"a\":" + deep + "}"), 1024).is_ok());
  // A length field of 4 GiB - 1 must not be trusted.
  const std::string huge{'\x00', '\xff', '\xff', '\xff', '\xff', '{', '}'};
  EXPECT_EQ(decode_request_envelope(huge, 1024).status().kind(), ErrorKind::kTooLarge);
}

}  // namespace
}  // namespace kiln::e2b
