#include "egress/sandbox_egress.h"

#include <gtest/gtest.h>

namespace kiln::egress {
namespace {

namespace ip = boost::asio::ip;

TEST(SandboxEgress, PolicyChangeClosesOnlyRefusedTunnels) {
  SandboxEgress e("sbx_1");
  auto ops = *net::AddressPolicy::from_allowlist({"10.0.0.0/8"});
  e.policy = *parse_policy({{"allow", {"a.test", "b.test"}}});
  int closed_a = 0, closed_b = 0;
  auto entry = e.log.add(LogEntry{});
  e.add_tunnel({"a.test", 80, ip::make_address("10.0.0.1"), entry, [&] { ++closed_a; }});
  e.add_tunnel({"b.test", 80, ip::make_address("10.0.0.2"), nullptr, [&] { ++closed_b; }});
  EXPECT_EQ(e.set_policy(*parse_policy({{"allow", {"b.test"}}}), ops), 1u);
  EXPECT_EQ(closed_a, 1);
  EXPECT_EQ(closed_b, 0);
  EXPECT_TRUE(entry->closed_by_policy);
  EXPECT_EQ(e.set_policy(*parse_policy("none"), ops), 2u);
  e.shutdown();
  EXPECT_EQ(closed_b, 2);
}

TEST(EgressLog, BoundedAndOrdered) {
  EgressLog log(3);
  for (int i = 0; i < 5; ++i) {
    LogEntry e;
    e.host = "h" + std::to_string(i);
    log.add(e);
  }
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.dropped(), 2u);
  auto j = log.to_json("s", "w", 2);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["host"], "h3");
  EXPECT_EQ(j[1]["host"], "h4");
  EXPECT_EQ(j[1]["decision"], "denied");
  EXPECT_EQ(j[1]["address"], nullptr);
}

}  // namespace
}  // namespace kiln::egress
