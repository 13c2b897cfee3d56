#include "storage/drive_path.h"

#include <gtest/gtest.h>

#include "storage/drive_scope.h"

namespace kiln::storage {
namespace {

// Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on
// "literal" + std::string.
std::string path_of(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) out.append("/").append(p);
  return out;
}

struct Case {
  std::string input;
  std::string want;  // "" means: rejected with EINVAL
};

TEST(DrivePath, Table) {
  const Case cases[] = {
      {"/data/q4.csv", "/data/q4.csv"},
      {"/a", "/a"},
      {"//a///b//", "/a/b"},
      {"/a/b/", "/a/b"},
      {"/dir with spaces/ü.txt", "/dir with spaces/ü.txt"},
      {"/.hidden/x", "/.hidden/x"},
      {"/a/..b/c..", "/a/..b/c.."},
      {"", ""},
      {"/", ""},
      {"///", ""},
      {"data/q4.csv", ""},
      {"./a", ""},
      {"/a/./b", ""},
      {"/a/../b", ""},
      {"/..", ""},
      {"/a/.", ""},
      {std::string("/a\0b", 4), ""},
      {"/a\nb", ""},
      {"/a\tb", ""},
      {"/a\x7f", ""},
      {"/bad\xff utf8", ""},
      {"/overlong\xc0\xaf", ""},
      {"/surrogate\xed\xa0\x80", ""},
      {path_of({std::string(255, 'x')}), path_of({std::string(255, 'x')})},
      {path_of({std::string(256, 'x')}), ""},
      {path_of({std::string(200, 'a'), std::string(200, 'b'), std::string(200, 'c'),
                std::string(200, 'd'), std::string(219, 'e')}),
       path_of({std::string(200, 'a'), std::string(200, 'b'), std::string(200, 'c'),
                std::string(200, 'd'), std::string(219, 'e')})},  // exactly 1024
      {path_of({std::string(200, 'a'), std::string(200, 'b'), std::string(200, 'c'),
                std::string(200, 'd'), std::string(220, 'e')}),
       ""},                                                       // 1025
      {std::string("/x").append(2000, '/').append("y"), "/x/y"},  // long input, short result
  };
  for (const Case& c : cases) {
    auto got = normalize_drive_path(c.input);
    if (c.want.empty()) {
      ASSERT_FALSE(got.is_ok()) << "accepted: " << c.input << " as " << *got;
      EXPECT_EQ(got.status().kind(), ErrorKind::kInvalid);
      EXPECT_EQ(got.status().message().rfind("invalid Drive path: ", 0), 0u);
    } else {
      ASSERT_TRUE(got.is_ok()) << c.input << ": " << got.status().message();
      EXPECT_EQ(*got, c.want);
    }
  }
}

TEST(DrivePath, Prefix) {
  EXPECT_EQ(*normalize_drive_prefix(""), "/");
  EXPECT_EQ(*normalize_drive_prefix("/"), "/");
  EXPECT_EQ(*normalize_drive_prefix("//"), "/");
  EXPECT_EQ(*normalize_drive_prefix("/data/"), "/data");
  EXPECT_EQ(*normalize_drive_prefix("/data//x"), "/data/x");
  EXPECT_FALSE(normalize_drive_prefix("data").is_ok());
  EXPECT_FALSE(normalize_drive_prefix("/../etc").is_ok());
}

TEST(DriveScope, ParseAndTtl) {
  EXPECT_EQ(*parse_scope(""), Scope::kPersistent);
  EXPECT_EQ(*parse_scope("persistent"), Scope::kPersistent);
  EXPECT_EQ(*parse_scope("session"), Scope::kSession);
  EXPECT_EQ(*parse_scope("temporary"), Scope::kTemporary);
  auto bad = parse_scope("forever");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kInvalid);
  EXPECT_FALSE(parse_scope("Temporary").is_ok());
  for (Scope s : {Scope::kTemporary, Scope::kSession, Scope::kPersistent}) {
    EXPECT_EQ(*parse_scope(scope_name(s)), s);
  }
  DriveOptions o;
  EXPECT_EQ(scope_ttl(Scope::kTemporary, o), std::chrono::minutes(10));
  EXPECT_EQ(scope_ttl(Scope::kSession, o), std::chrono::hours(24));
  EXPECT_EQ(scope_ttl(Scope::kPersistent, o), std::nullopt);
  EXPECT_EQ(o.file_cap_bytes, 50 * 1024 * 1024);
}

}  // namespace
}  // namespace kiln::storage
