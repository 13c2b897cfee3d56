#include "mcp/origin_check.h"

#include <gtest/gtest.h>

namespace kiln::mcp {
namespace {

TEST(HostName, DropsThePort) {
  EXPECT_EQ(host_name("127.0.0.1:8420"), "127.0.0.1");
  EXPECT_EQ(host_name("LocalHost"), "localhost");
  EXPECT_EQ(host_name("[::1]:80"), "[::1]");
  EXPECT_EQ(host_name("[::1]"), "[::1]");
  EXPECT_EQ(host_name("a:b"), "");
  EXPECT_EQ(host_name("[::1"), "");
  EXPECT_EQ(host_name("ev il"), "");
}

TEST(CheckHost, AllowsLoopbackAndConfiguredNames) {
  const std::vector<std::string> none, extra = {"kiln.internal"};
  EXPECT_EQ(check_host("127.0.0.1:8420", none), "");
  EXPECT_EQ(check_host("localhost", none), "");
  EXPECT_EQ(check_host("[::1]:9", none), "");
  EXPECT_NE(check_host("evil.example.com", none), "");
  EXPECT_NE(check_host("evil.example.com:8420", none), "");
  EXPECT_NE(check_host("", none), "");
  EXPECT_NE(check_host("kiln.internal:8420", none), "");
  EXPECT_EQ(check_host("kiln.internal:8420", extra), "");
  EXPECT_EQ(check_host("KILN.internal", extra), "");
}

TEST(CheckOrigin, AbsentIsFinePresentMustBeAllowed) {
  const std::vector<std::string> none;
  EXPECT_EQ(check_origin("", none), "");
  EXPECT_EQ(check_origin("http://localhost:3000", none), "");
  EXPECT_EQ(check_origin("https://127.0.0.1", none), "");
  EXPECT_EQ(check_origin("http://[::1]:5173/", none), "");
  EXPECT_NE(check_origin("http://evil.example.com", none), "");
  EXPECT_NE(check_origin("http://localhost.evil.example.com", none), "");
  EXPECT_NE(check_origin("null", none), "");
  EXPECT_NE(check_origin("file://", none), "");
  EXPECT_NE(check_origin("chrome-extension://abc", none), "");
}

}  // namespace
}  // namespace kiln::mcp
