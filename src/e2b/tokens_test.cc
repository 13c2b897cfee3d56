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

// Vectors computed with Python's hashlib + base64, as E2B's SDK computes them.
TEST(Tokens, FileSignatureAsTheSdkComputesIt) {
  EXPECT_EQ(file_signature("/home/user/a.txt", "read", "undefined", "tok", std::nullopt),
            "v1_js52j97zdOG3ZWw0SDmUS2rD4aSyZbAx/ZNDQZn2SMY");
  EXPECT_EQ(file_signature("/x", "write", "user", "tok", 1700000000),
            "v1_+qQx61F+QDfJ8q6uf+CZF8FkAV0HSQiAOGtD0Ux84tE");
  EXPECT_TRUE(signatures_equal("v1_abc", "v1_abc"));
  EXPECT_FALSE(signatures_equal("v1_abc", "v1_abd"));
  EXPECT_FALSE(signatures_equal("v1_abc", "v1_ab"));
}

}  // namespace
}  // namespace kiln::e2b
