#include "e2b/list_query.h"

#include <gtest/gtest.h>

namespace kiln::e2b {
namespace {

TEST(ListQuery, MetadataFilterAsTheJsSdkEncodesIt) {
  // {a:"b c","k=1":"v&2"} from e2b 2.51, after the query's own decoding.
  auto m = parse_metadata_filter("a=b%2520c&k%253D1=v%25262");
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ((*m)["a"], "b c");
  EXPECT_EQ((*m)["k=1"], "v&2");
}

TEST(ListQuery, MetadataFilterEncodedOnce) {
  auto m = parse_metadata_filter("team%2Fslug=hello%20world&x=1");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ((*m)["team/slug"], "hello world");
  EXPECT_EQ((*m)["x"], "1");
  EXPECT_TRUE(parse_metadata_filter("")->empty());
  EXPECT_FALSE(parse_metadata_filter("a=%00").is_ok());
}

TEST(ListQuery, States) {
  EXPECT_EQ(parse_states("")->size(), 2u);
  EXPECT_EQ(*parse_states("running"), std::set<std::string>{"running"});
  EXPECT_EQ(parse_states("running,paused")->size(), 2u);
  EXPECT_FALSE(parse_states("running,bogus").is_ok());
}

}  // namespace
}  // namespace kiln::e2b
