#include "egress/policy.h"

#include <gtest/gtest.h>

namespace kiln::egress {
namespace {

namespace ip = boost::asio::ip;
using nlohmann::json;

Policy parse(const json& j) {
  auto p = parse_policy(j);
  EXPECT_TRUE(p) << p.status().message();
  return p ? *p : Policy{};
}

net::AddressPolicy ops(std::vector<std::string> cidrs = {}) {
  return *net::AddressPolicy::from_allowlist(cidrs);
}

bool allowed(const Policy& p, const std::string& host, const std::string& addr, int port,
             const net::AddressPolicy& o = ops()) {
  return decide_address(p, o, host, ip::make_address(addr), static_cast<std::uint16_t>(port))
      .allowed;
}

TEST(EgressPolicy, ParsesModesAndRoundTrips) {
  EXPECT_EQ(parse("none").mode, Policy::Mode::kNone);
  EXPECT_EQ(parse("internet").mode, Policy::Mode::kInternet);
  const json rules = {{"allow",
                       {"pypi.org", "*.pythonhosted.org", "api.example.com:443", "203.0.113.0/24",
                        "[2001:db8::/32]:443"}},
                      {"deny", {"bad.pypi.org"}}};
  Policy p = parse(rules);
  EXPECT_EQ(p.mode, Policy::Mode::kRules);
  EXPECT_EQ(p.to_json(), rules);
  EXPECT_EQ(parse(json::object()).to_json(),
            (json{{"allow", json::array()}, {"deny", json::array()}}));
}

TEST(EgressPolicy, RefusesBadInput) {
  for (const json& bad :
       {json("host"), json(5), json::array(), json{{"allow", "x"}}, json{{"allow", {1}}},
        json{{"other", json::array()}}, json{{"allow", {"*"}}}, json{{"allow", {"*.1.2.3.4"}}},
        json{{"allow", {"a*.org"}}}, json{{"allow", {"a..b"}}}, json{{"allow", {"x.org:0"}}},
        json{{"allow", {"x.org:65536"}}}, json{{"allow", {"10.0.0.1/8"}}},
        json{{"allow", {"[::1"}}}, json{{"allow", {""}}}}) {
    EXPECT_FALSE(parse_policy(bad)) << bad.dump();
  }
  json many = {{"allow", json::array()}};
  for (std::size_t i = 0; i <= kMaxRules; ++i)
    many["allow"].push_back("h" + std::to_string(i) + ".org");
  EXPECT_FALSE(parse_policy(many));
}

TEST(EgressPolicy, NoneRefusesEverything) {
  Policy p = parse("none");
  EXPECT_FALSE(decide_name(p, "pypi.org", 443).allowed);
  EXPECT_FALSE(allowed(p, "pypi.org", "151.101.0.223", 443));
}

TEST(EgressPolicy, InternetAllowsPublicOnly) {
  Policy p = parse("internet");
  EXPECT_TRUE(allowed(p, "pypi.org", "151.101.0.223", 443));
  EXPECT_TRUE(allowed(p, "x", "2a04:4e42::223", 80));
  for (const char* a :
       {"127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "100.64.0.1",
        "224.0.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0", "fd00:ec2::254"}) {
    Decision d = decide_address(p, ops(), "evil.example", ip::make_address(a), 80);
    EXPECT_FALSE(d.allowed) << a;
    EXPECT_EQ(d.rule, "address") << a;
  }
  EXPECT_NE(decide_address(p, ops(), "m", ip::make_address("169.254.169.254"), 80)
                .reason.find("metadata"),
            std::string::npos);
}

TEST(EgressPolicy, OperatorCidrsOpenPrivateBlocks) {
  Policy p = parse({{"allow", {"mirror.lan"}}});
  EXPECT_FALSE(allowed(p, "mirror.lan", "10.9.0.5", 80));
  EXPECT_TRUE(allowed(p, "mirror.lan", "10.9.0.5", 80, ops({"10.9.0.0/24"})));
  EXPECT_FALSE(allowed(p, "mirror.lan", "10.9.1.5", 80, ops({"10.9.0.0/24"})));
}

TEST(EgressPolicy, NamesWildcardsPortsAndCidrs) {
  Policy p =
      parse({{"allow",
              {"pypi.org", "*.pythonhosted.org", "api.example.com:443", "151.101.0.0/16:8443"}}});
  const char* pub = "151.101.0.223";
  EXPECT_TRUE(allowed(p, "pypi.org", pub, 443));
  EXPECT_TRUE(allowed(p, "pypi.org", pub, 80));
  EXPECT_FALSE(allowed(p, "evilpypi.org", pub, 443));
  EXPECT_TRUE(allowed(p, "files.pythonhosted.org", pub, 443));
  EXPECT_TRUE(allowed(p, "a.b.pythonhosted.org", pub, 443));
  EXPECT_FALSE(allowed(p, "pythonhosted.org", pub, 443));
  EXPECT_FALSE(allowed(p, "xpythonhosted.org", pub, 443));
  EXPECT_TRUE(allowed(p, "api.example.com", pub, 443));
  EXPECT_FALSE(allowed(p, "api.example.com", pub, 80));
  EXPECT_TRUE(allowed(p, "anything.net", "151.101.3.4", 8443));
  EXPECT_FALSE(allowed(p, "anything.net", "151.101.3.4", 443));
  EXPECT_FALSE(allowed(p, "anything.net", "8.8.8.8", 8443));
  Decision d = decide_address(p, ops(), "other.org", ip::make_address(pub), 443);
  EXPECT_EQ(d.rule, "default");
  EXPECT_NE(d.reason.find("allow list"), std::string::npos);
}

TEST(EgressPolicy, DenyWins) {
  Policy p = parse({{"allow", {"*.example.com", "8.8.0.0/16"}},
                    {"deny", {"secret.example.com", "8.8.8.0/24", "*.internal.example.com"}}});
  EXPECT_TRUE(allowed(p, "www.example.com", "93.184.216.34", 443));
  EXPECT_FALSE(decide_name(p, "secret.example.com", 443).allowed);
  EXPECT_FALSE(allowed(p, "a.internal.example.com", "93.184.216.34", 443));
  EXPECT_TRUE(allowed(p, "dns", "8.8.4.4", 53));
  Decision d = decide_address(p, ops(), "dns", ip::make_address("8.8.8.8"), 53);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "8.8.8.0/24");
}

TEST(EgressPolicy, NormalizesHosts) {
  EXPECT_EQ(normalize_host("PyPI.ORG."), "pypi.org");
  EXPECT_EQ(normalize_host("[::1]"), "::1");
  EXPECT_EQ(normalize_host("::ffff:7f00:1"), "::ffff:127.0.0.1");
  EXPECT_EQ(normalize_host("a b"), "");
  EXPECT_EQ(normalize_host("a@b"), "");
  EXPECT_EQ(normalize_host(""), "");
}

TEST(EgressPolicy, Ceiling) {
  Policy ceiling =
      parse({{"allow", {"*.pypi.org", "pypi.org", "10.0.0.0/8:443"}}, {"deny", {"evil.pypi.org"}}});
  EXPECT_TRUE(within_ceiling(parse("none"), ceiling));
  EXPECT_TRUE(within_ceiling(
      parse({{"allow", {"pypi.org:443", "files.pypi.org"}}, {"deny", {"evil.pypi.org"}}}),
      ceiling));
  EXPECT_TRUE(within_ceiling(parse({{"allow", {"10.1.0.0/16:443"}}, {"deny", {"evil.pypi.org"}}}),
                             ceiling));
  EXPECT_FALSE(
      within_ceiling(parse({{"allow", {"10.1.0.0/16"}}, {"deny", {"evil.pypi.org"}}}), ceiling));
  EXPECT_FALSE(within_ceiling(parse({{"allow", {"files.pypi.org"}}}), ceiling));  // drops a deny
  EXPECT_FALSE(
      within_ceiling(parse({{"allow", {"npmjs.org"}}, {"deny", {"evil.pypi.org"}}}), ceiling));
  EXPECT_FALSE(within_ceiling(parse("internet"), ceiling));
  EXPECT_TRUE(within_ceiling(parse("internet"), parse("internet")));
  EXPECT_FALSE(within_ceiling(parse({{"allow", {"a.org"}}}), parse("none")));
}

}  // namespace
}  // namespace kiln::egress
