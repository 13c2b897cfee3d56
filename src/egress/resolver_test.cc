#include "egress/resolver.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <optional>

namespace kiln::egress {
namespace {

namespace ip = boost::asio::ip;

TEST(EgressResolver, HostsText) {
  const char* text =
      "# comment\n10.0.0.1 a.test B.test # trailing\n::1 a.test\nnot-an-ip c.test\n"
      "10.0.0.1 a.test\n";
  auto a = lookup_hosts_text(text, "A.TEST");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0], ip::make_address("10.0.0.1"));
  EXPECT_EQ(a[1], ip::make_address("::1"));
  EXPECT_EQ(lookup_hosts_text(text, "b.test").size(), 1u);
  EXPECT_TRUE(lookup_hosts_text(text, "c.test").empty());
  EXPECT_TRUE(lookup_hosts_text(text, "comment").empty());
}

Result<std::vector<ip::address>> resolve(const Resolver& r, const std::string& host) {
  boost::asio::io_context io;
  std::optional<Result<std::vector<ip::address>>> out;
  auto run = [&]() -> boost::asio::awaitable<void> { out.emplace(co_await r.resolve(host)); };
  boost::asio::co_spawn(io, run(), boost::asio::detached);
  io.run();
  return *out;
}

TEST(EgressResolver, FileOnlyAndReadEveryTime) {
  char path[] = "/tmp/kiln-hosts-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  { std::ofstream(path) << "10.1.1.1 x.test\n"; }
  Resolver r(path);
  auto a = resolve(r, "x.test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at(0), ip::make_address("10.1.1.1"));
  { std::ofstream(path) << "127.0.0.1 x.test\n"; }
  a = resolve(r, "x.test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at(0), ip::make_address("127.0.0.1"));
  // Not in the file: no DNS fallback.
  EXPECT_FALSE(resolve(r, "localhost"));
  // Literals need no lookup.
  a = resolve(r, "192.0.2.7");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at(0), ip::make_address("192.0.2.7"));
  std::remove(path);
}

}  // namespace
}  // namespace kiln::egress
