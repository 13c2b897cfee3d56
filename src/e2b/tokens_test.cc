#include "e2b/tokens.h"

#include <gtest/gtest.h>

namespace kiln::e2b {
namespace {

TEST(Tokens, OnePerSandboxKindAndSecret) {
  const std::string a = sandbox_token("s", TokenKind::kEnvd, "sbx_1");
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a, sandbox_token("s", TokenKind::kEnvd, "sbx_1"));
  EXPECT_NE(a, sandbox_token("s", TokenKind::kEnvd, "sbx_2"));
  EXPECT_NE(a, sandbox_token("s", TokenKind::kTraffic, "sbx_1"));
  EXPECT_NE(a, sandbox_token("t", TokenKind::kEnvd, "sbx_1"));
}

TEST(Tokens, Matches) {
  const std::string a = sandbox_token("s", TokenKind::kEnvd, "sbx_1");
  EXPECT_TRUE(token_matches("s", TokenKind::kEnvd, "sbx_1", a));
  EXPECT_FALSE(token_matches("s", TokenKind::kEnvd, "sbx_1", a.substr(1)));
  EXPECT_FALSE(token_matches("s", TokenKind::kEnvd, "sbx_1", ""));
  EXPECT_FALSE(token_matches("s", TokenKind::kEnvd, "sbx_2", a));
}

}  // namespace
}  // namespace kiln::e2b
