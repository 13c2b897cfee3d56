#include "agent/utf8.h"

#include <gtest/gtest.h>

namespace kiln::agent {
namespace {

TEST(Utf8, AsciiIsComplete) { EXPECT_EQ(complete_utf8_prefix("hello"), 5u); }

TEST(Utf8, SplitMultibyteIsCarried) {
  const std::string euro = "\xE2\x82\xAC";  // €
  EXPECT_EQ(complete_utf8_prefix("a" + euro), 4u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 2)), 1u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 1)), 1u);
  const std::string emoji = "\xF0\x9F\x98\x80";
  EXPECT_EQ(complete_utf8_prefix(emoji.substr(0, 3)), 0u);
  EXPECT_EQ(complete_utf8_prefix(emoji), 4u);
}

TEST(Utf8, EmptyIsEmpty) { EXPECT_EQ(complete_utf8_prefix(""), 0u); }

}  // namespace
}  // namespace kiln::agent
