#include "protocol/frame.h"

#include <gtest/gtest.h>

namespace kiln::protocol {
namespace {

TEST(Frame, RoundTripsMessageAndPayload) {
  Frame in{{{"op", "write"}, {"rid", 7}}, std::string("a\0b", 3)};
  auto bytes = encode_frame(in);
  ASSERT_TRUE(bytes);
  FrameDecoder dec;
  dec.feed(bytes->data(), bytes->size());
  auto out = dec.next();
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->msg["op"], "write");
  EXPECT_EQ((*out)->msg["rid"], 7);
  EXPECT_EQ((*out)->data, std::string("a\0b", 3));
  auto none = dec.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(Frame, DecodesByteByByteAndBackToBack) {
  std::string stream;
  for (int i = 0; i < 3; ++i) stream += *encode_frame(Frame{{{"op", "x"}, {"i", i}}, ""});
  FrameDecoder dec;
  int seen = 0;
  for (char c : stream) {
    dec.feed(&c, 1);
    while (true) {
      auto f = dec.next();
      ASSERT_TRUE(f);
      if (!f->has_value()) break;
      EXPECT_EQ((*f)->msg["i"], seen);
      ++seen;
    }
  }
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(Frame, RejectsOversizedLengths) {
  FrameDecoder dec;
  const char header[8] = {'\xff', '\xff', '\xff', '\x7f', 0, 0, 0, 0};
  dec.feed(header, 8);
  EXPECT_FALSE(dec.next());
}

TEST(Frame, RejectsZeroLengthAndNonObjectMessages) {
  FrameDecoder zero;
  const char header[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  zero.feed(header, 8);
  EXPECT_FALSE(zero.next());

  FrameDecoder arr;
  const char hdr2[8] = {2, 0, 0, 0, 0, 0, 0, 0};
  arr.feed(hdr2, 8);
  arr.feed("[]", 2);
  EXPECT_FALSE(arr.next());

  FrameDecoder garbage;
  garbage.feed(hdr2, 8);
  garbage.feed("{x", 2);
  EXPECT_FALSE(garbage.next());
}

TEST(Frame, InvalidUtf8IsReplacedNotThrown) {
  Frame in{{{"op", "list"}, {"name", std::string("\xff\xfe")}}, ""};
  auto bytes = encode_frame(in);
  ASSERT_TRUE(bytes);
  FrameDecoder dec;
  dec.feed(bytes->data(), bytes->size());
  auto out = dec.next();
  ASSERT_TRUE(out && out->has_value());
}

TEST(Frame, RefusesPayloadOverCap) {
  Frame big{{{"op", "x"}}, std::string(kMaxDataBytes + 1, 'a')};
  EXPECT_FALSE(encode_frame(big));
}

}  // namespace
}  // namespace kiln::protocol
