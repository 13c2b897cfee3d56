#include "common/bounded_json.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace {

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(BoundedJson, AcceptsUpToTheDepthLimit) {
  auto v = parse_bounded_json(nested(128), {1 << 20, 128});
  ASSERT_TRUE(v) << v.status().message();
  EXPECT_EQ(json_depth(*v), 128u);
}

TEST(BoundedJson, RefusesDeeperThanTheLimitWithoutRecursing) {
  // Deep enough that any recursive copy or dump would overflow the stack.
  auto v = parse_bounded_json(nested(1'000'000), {8 << 20, 128});
  ASSERT_FALSE(v);
  EXPECT_NE(v.status().message().find("deeper than 128"), std::string::npos);
  EXPECT_EQ(v.status().kind(), ErrorKind::kInvalid);
}

TEST(BoundedJson, DepthCountsObjectsAndArraysAlike) {
  EXPECT_TRUE(parse_bounded_json(R"({"a":{"b":[1]}})", {1024, 3}));
  EXPECT_FALSE(parse_bounded_json(R"({"a":{"b":[[1]]}})", {1024, 3}));
}

TEST(BoundedJson, RefusesOversizedInputBeforeParsing) {
  auto v = parse_bounded_json(std::string(2000, ' ') + "1", {1000, 8});
  ASSERT_FALSE(v);
  EXPECT_NE(v.status().message().find("larger than 1000"), std::string::npos);
}

TEST(BoundedJson, InvalidJsonIsAnErrorNotAThrow) {
  for (const char* bad : {"", "{", "[1,", "{\"a\" 1}", "\"\xff\"", "nul"}) {
    EXPECT_FALSE(parse_bounded_json(bad, {1024, 8})) << bad;
  }
  EXPECT_TRUE(untrusted_json("[1").is_discarded());
  EXPECT_EQ(untrusted_json("[1]").size(), 1u);
}

TEST(BoundedJson, DepthOfAValueIsIterative) {
  nlohmann::json v = nlohmann::json::array();
  nlohmann::json* cur = &v;
  for (int i = 0; i < 50; ++i) {
    cur->push_back(nlohmann::json::array());
    cur = &(*cur)[0];
  }
  EXPECT_EQ(json_depth(v), 51u);
  EXPECT_EQ(json_depth(nlohmann::json(3)), 0u);
  EXPECT_GT(json_depth(v, 10), 10u);  // stops early
}

}  // namespace
}  // namespace kiln
