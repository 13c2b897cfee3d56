#include "cli/endpoint.h"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

TEST(Endpoint, DefaultUrl) {
  auto ep = parse_endpoint("http://127.0.0.1:8420");
  ASSERT_TRUE(ep) << ep.status().message();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, "8420");
  EXPECT_EQ(ep->prefix, "");
  EXPECT_EQ(ep->url, "http://127.0.0.1:8420");
}

TEST(Endpoint, BareHostPortAndPrefix) {
  auto ep = parse_endpoint("localhost:9000/kiln/");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "localhost");
  EXPECT_EQ(ep->port, "9000");
  EXPECT_EQ(ep->prefix, "/kiln");
  EXPECT_EQ(ep->url, "http://localhost:9000/kiln");
}

TEST(Endpoint, DefaultPortAndIpv6) {
  auto a = parse_endpoint("http://example.test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, "80");
  auto b = parse_endpoint("http://[::1]:8420");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->url, "http://[::1]:8420");
}

TEST(Endpoint, RefusesWhatItCannotSpeak) {
  auto https = parse_endpoint("https://kiln.example");
  ASSERT_FALSE(https);
  EXPECT_NE(https.status().message().find("plain HTTP"), std::string::npos);
  EXPECT_FALSE(parse_endpoint("ftp://x"));
  EXPECT_FALSE(parse_endpoint("http://:80"));
  EXPECT_FALSE(parse_endpoint("http://h:99999"));
  EXPECT_FALSE(parse_endpoint("http://h:8x"));
  EXPECT_FALSE(parse_endpoint("http://user:pw@h:1"));
  EXPECT_FALSE(parse_endpoint("http://[::1"));
}

}  // namespace
}  // namespace kiln::cli
