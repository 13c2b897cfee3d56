#include "e2b/network_options.h"

#include <gtest/gtest.h>

#include "egress/policy.h"

namespace kiln::e2b {
namespace {

using nlohmann::json;

// The mapped value, which Kiln's own policy parser must accept.
json mapped(const json& body, bool flat = false) {
  auto r = kiln_network(body, flat);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  if (!r.is_ok() || !r->has_value()) return nullptr;
  EXPECT_TRUE(egress::parse_policy(**r).is_ok()) << (*r)->dump();
  return **r;
}

TEST(E2bNetwork, NoEgressFieldKeepsKilnsDefault) {
  auto r = kiln_network(json::object(), false);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->has_value());
  r = kiln_network(json{{"network", {{"allowPublicTraffic", false}}}}, false);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->has_value());
}

TEST(E2bNetwork, InternetFlag) {
  EXPECT_EQ(mapped({{"allow_internet_access", true}}), "internet");
  EXPECT_EQ(mapped({{"allow_internet_access", false}}), "none");
}

TEST(E2bNetwork, AllowOnlyTheseHosts) {
  // The SDK's "allow only": denyOut [allTraffic] + allowOut.
  json body = {
      {"network",
       {{"allowOut", {"pypi.org", "*.pythonhosted.org", "8.8.8.8"}}, {"denyOut", {"0.0.0.0/0"}}}}};
  EXPECT_EQ(mapped(body), json({{"allow", {"pypi.org", "*.pythonhosted.org", "8.8.8.8"}}}));
  // The same with the internet switched off instead.
  body = {{"allow_internet_access", false}, {"network", {{"allowOut", {"pypi.org"}}}}};
  EXPECT_EQ(mapped(body), json({{"allow", {"pypi.org"}}}));
}

TEST(E2bNetwork, OpenWithDenies) {
  json body = {{"network", {{"denyOut", {"203.0.113.0/24", "198.51.100.7"}}}}};
  EXPECT_EQ(mapped(body),
            json({{"allow", {"0.0.0.0/0", "::/0"}}, {"deny", {"203.0.113.0/24", "198.51.100.7"}}}));
  // A bare 0.0.0.0 is one address, not E2B's all-traffic CIDR.
  EXPECT_EQ(mapped({{"network", {{"denyOut", {"0.0.0.0"}}}}}),
            json({{"allow", {"0.0.0.0/0", "::/0"}}, {"deny", {"0.0.0.0"}}}));
  // allowOut without any deny adds nothing to an open internet.
  EXPECT_EQ(mapped({{"network", {{"allowOut", {"example.com"}}}}}), "internet");
}

TEST(E2bNetwork, UpdateBodyIsFlat) {
  json body = {{"allowOut", {"api.example.com"}}, {"denyOut", {"0.0.0.0/0"}}};
  EXPECT_EQ(mapped(body, true), json({{"allow", {"api.example.com"}}}));
  EXPECT_EQ(mapped({{"denyOut", {"0.0.0.0/0"}}}, true), "none");
}

TEST(E2bNetwork, MalformedInputIsRefused) {
  for (const json& body :
       {json{{"allow_internet_access", "yes"}}, json{{"network", 3}},
        json{{"network", {{"allowOut", "pypi.org"}}}}, json{{"network", {{"denyOut", {1}}}}},
        json{{"network", {{"allowOut", {""}}}}}}) {
    auto r = kiln_network(body, false);
    EXPECT_FALSE(r.is_ok()) << body.dump();
  }
  json many = json::array();
  for (std::size_t i = 0; i <= kMaxNetworkEntries; ++i) many.push_back("h" + std::to_string(i));
  EXPECT_FALSE(kiln_network({{"network", {{"allowOut", many}}}}, false).is_ok());
}

TEST(E2bNetwork, ReportedBackAsE2bSeesIt) {
  EXPECT_TRUE(internet_open("internet"));
  EXPECT_FALSE(internet_open("none"));
  EXPECT_EQ(e2b_network("none"), json({{"allowOut", json::array()}, {"denyOut", {"0.0.0.0/0"}}}));
  EXPECT_EQ(e2b_network(json{{"allow", {"pypi.org"}}}),
            json({{"allowOut", {"pypi.org"}}, {"denyOut", {"0.0.0.0/0"}}}));
  json open_deny = {{"allow", {"0.0.0.0/0", "::/0"}}, {"deny", {"203.0.113.0/24"}}};
  EXPECT_TRUE(internet_open(open_deny));
  EXPECT_EQ(e2b_network(open_deny),
            json({{"allowOut", json::array()}, {"denyOut", {"203.0.113.0/24"}}}));
}

}  // namespace
}  // namespace kiln::e2b
