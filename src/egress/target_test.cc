#include "egress/target.h"

#include <gtest/gtest.h>

namespace kiln::egress {
namespace {

TEST(EgressTarget, Connect) {
  auto t = parse_connect_target("pypi.org:443");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "pypi.org");
  EXPECT_EQ(t->port, 443);
  t = parse_connect_target("[2001:db8::1]:8443");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "2001:db8::1");
  EXPECT_EQ(t->port, 8443);
  for (const char* bad : {"", "pypi.org", "pypi.org:", "pypi.org:0", "pypi.org:70000",
                          "a@b.org:443", "b.org:443/x", "b.org:44x", ":443"}) {
    EXPECT_FALSE(parse_connect_target(bad)) << bad;
  }
}

TEST(EgressTarget, ProxyUrl) {
  auto t = parse_proxy_url("http://Example.org/a/b?q=1#frag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "Example.org");
  EXPECT_EQ(t->port, 80);
  EXPECT_EQ(t->origin, "/a/b?q=1");
  t = parse_proxy_url("http://example.org:8080");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->origin, "/");
  t = parse_proxy_url("http://[::1]:81/x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->origin, "/x");
  t = parse_proxy_url("http://[::1]/y");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->origin, "/y");
  for (const char* bad : {"/relative", "https://a.org/", "ftp://a.org/",
                          "http://a.org@169.254.169.254/", "http:///x", "http://a.org:0/"}) {
    EXPECT_FALSE(parse_proxy_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace kiln::egress
