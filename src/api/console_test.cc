#include "api/console.h"

#include <gtest/gtest.h>

namespace kiln::api {
namespace {

using Segs = std::vector<std::string>;

TEST(ConsoleFiles, RootAndConsoleServeIndex) {
  EXPECT_EQ(console_file_for(Segs{}), "index.html");
  EXPECT_EQ(console_file_for(Segs{"console"}), "index.html");
  EXPECT_EQ(console_file_for(Segs{"console", "assets", "index-3fA_9.js"}), "assets/index-3fA_9.js");
  EXPECT_EQ(console_file_for(Segs{"console", "favicon.svg"}), "favicon.svg");
}

TEST(ConsoleFiles, RefusesAnythingButPlainNames) {
  EXPECT_EQ(console_file_for(Segs{"v1", "sandboxes"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", ".."}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", "assets", ".."}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", ".hidden"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", "%2e%2e"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", "a\\b"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", "a b"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", std::string("a\0b", 3)}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", "a", "b", "c", "d", "e"}), std::nullopt);
  EXPECT_EQ(console_file_for(Segs{"console", std::string(256, 'a')}), std::nullopt);
}

TEST(ConsoleFiles, ContentTypes) {
  EXPECT_EQ(console_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(console_content_type("assets/index-1.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(console_content_type("assets/index-1.css"), "text/css; charset=utf-8");
  EXPECT_EQ(console_content_type("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(console_content_type("README"), "application/octet-stream");
}

}  // namespace
}  // namespace kiln::api
