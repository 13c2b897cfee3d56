#include "mcp/sse_reader.h"

#include <gtest/gtest.h>

namespace kiln::mcp {
namespace {

TEST(SseReader, ReadsEventsSplitAnywhere) {
  SseReader r;
  const std::string stream = "data: {\"a\":1}\n\nevent: message\ndata: {\"b\":2}\n\n";
  std::vector<std::string> got;
  for (char c : stream) {
    for (auto& d : r.feed(std::string_view(&c, 1))) got.push_back(d);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "{\"a\":1}");
  EXPECT_EQ(got[1], "{\"b\":2}");
}

TEST(SseReader, JoinsDataLinesSkipsCommentsOtherEventsAndPriming) {
  SseReader r;
  auto got = r.feed(
      ": keepalive\r\nid: 1\r\ndata: \r\n\r\nevent: other\ndata: x\n\ndata:a\ndata: b\nretry: "
      "5\n\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "a\nb");
}

TEST(SseReader, KeepsAnUnfinishedEvent) {
  SseReader r;
  EXPECT_TRUE(r.feed("data: {\"x\"").empty());
  EXPECT_TRUE(r.feed(":1}\n").empty());
  auto got = r.feed("\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "{\"x\":1}");
}

}  // namespace
}  // namespace kiln::mcp
