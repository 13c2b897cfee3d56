#include "common/sandbox_path.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

std::string norm(std::string_view p) {
  auto r = normalize_sandbox_path(p);
  return r ? *r : "ERROR:" + r.status().message();
}

TEST(SandboxPath, RelativeIsUnderHome) {
  EXPECT_EQ(norm("a.txt"), "/home/user/a.txt");
  EXPECT_EQ(norm(""), "/home/user");
  EXPECT_EQ(norm("./x/./y"), "/home/user/x/y");
}

TEST(SandboxPath, DotDotNeverClimbsAboveRoot) {
  EXPECT_EQ(norm("../../../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(norm("/.."), "/");
  EXPECT_EQ(norm("/a/b/../../../c"), "/c");
}

TEST(SandboxPath, CollapsesSlashes) { EXPECT_EQ(norm("//tmp///x//"), "/tmp/x"); }

TEST(SandboxPath, RejectsNulAndOverlong) {
  EXPECT_EQ(norm(std::string_view("a\0b", 3)).rfind("ERROR:", 0), 0u);
  EXPECT_EQ(norm(std::string(5000, 'a')).rfind("ERROR:", 0), 0u);
  EXPECT_EQ(norm("/" + std::string(300, 'a')).rfind("ERROR:", 0), 0u);
}

}  // namespace
}  // namespace kiln
