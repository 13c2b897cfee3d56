// Regression tests for inputs found by fuzz/http_fuzz.cc (see fuzz/README.md).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/sandbox_path.h"

namespace kiln {
namespace {

// fuzz/regressions/http/sandbox_path_relative_too_long: a relative path of
// exactly kMaxSandboxPath bytes was accepted, but "/home/user/" made the
// result longer than kMaxSandboxPath, so the normalised path was one that
// normalize_sandbox_path itself refuses (and longer than PATH_MAX for
// kiln-init). Whatever is accepted must be a valid, fixed-point spelling.
TEST(SandboxPathRegress, RelativePathAtTheLimitStaysWithinTheLimit) {
  std::string rel;
  while (rel.size() + 2 <= kMaxSandboxPath) rel += "a/";
  ASSERT_EQ(rel.size(), kMaxSandboxPath);
  auto r = normalize_sandbox_path(rel);
  if (!r) return;  // refusing it ("path is too long") is a fine answer too
  EXPECT_LE(r->size(), kMaxSandboxPath);
  auto again = normalize_sandbox_path(*r);
  ASSERT_TRUE(again) << again.status().message();
  EXPECT_EQ(*again, *r);
}

TEST(SandboxPathRegress, NormalisingTwiceChangesNothing) {
  std::string deep;
  while (deep.size() + 4 <= kMaxSandboxPath - 8) deep += "bbb/";
  const std::vector<std::string> inputs = {"a/b/../c", "/x//y/./z/", "../../../etc",
                                           "",         ".",          "/",
                                           deep,       "/" + deep,   std::string(255, 'c') + "/x"};
  for (const std::string& p : inputs) {
    auto r = normalize_sandbox_path(p);
    if (!r) continue;
    auto again = normalize_sandbox_path(*r);
    ASSERT_TRUE(again) << p.size() << "-byte input -> " << r->size()
                       << "-byte result: " << again.status().message();
    EXPECT_EQ(*again, *r);
  }
}

}  // namespace
}  // namespace kiln
