#include "api/links.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln::api {
namespace {

using namespace std::chrono;

std::map<std::string, std::string> query_of(const std::string& link) {
  std::map<std::string, std::string> q;
  auto rest = link.substr(link.find('?') + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto eq = part.find('=');
    q[part.substr(0, eq)] = part.substr(eq + 1);
    rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
  }
  return q;
}

TEST(Links, SignedLinkVerifiesUntilItsDeadline) {
  const auto now = system_clock::now();
  auto link = sign_link("secret", "ws1", "/actions/x.png", now + minutes(10));
  auto q = query_of(link);
  EXPECT_EQ(q["w"], "ws1");
  EXPECT_TRUE(verify_link("secret", "ws1", "/actions/x.png", q["e"], q["sig"], now));
  auto late = verify_link("secret", "ws1", "/actions/x.png", q["e"], q["sig"], now + minutes(11));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.status().kind(), ErrorKind::kUnprocessable);
}

TEST(Links, AnyChangeBreaksTheSignature) {
  const auto now = system_clock::now();
  auto q = query_of(sign_link("secret", "ws1", "/a.png", now + minutes(10)));
  EXPECT_FALSE(verify_link("secret", "ws2", "/a.png", q["e"], q["sig"], now));
  EXPECT_FALSE(verify_link("secret", "ws1", "/b.png", q["e"], q["sig"], now));
  EXPECT_FALSE(verify_link("secret", "ws1", "/a.png", std::to_string(std::stoll(q["e"]) + 1000),
                           q["sig"], now));
  EXPECT_FALSE(verify_link("other", "ws1", "/a.png", q["e"], q["sig"], now));
  EXPECT_FALSE(verify_link("secret", "ws1", "/a.png", q["e"], "", now));
}

TEST(Base64, DecodesWithPaddingAndRejectsJunk) {
  EXPECT_EQ(*decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(*decode_base64("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*decode_base64("YQ=="), "a");
  EXPECT_EQ(*decode_base64(""), "");
  EXPECT_FALSE(decode_base64("abc"));
  EXPECT_FALSE(decode_base64("!!!!"));
}

}  // namespace
}  // namespace kiln::api
