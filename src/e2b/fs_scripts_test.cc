#include "e2b/fs_scripts.h"

#include <gtest/gtest.h>

namespace kiln::e2b {
namespace {

TEST(FsScripts, ShellQuoteSurvivesQuotes) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
}

TEST(FsScripts, ListDepthIsBounded) {
  EXPECT_NE(list_script("/x", 0).find("-maxdepth 1 "), std::string::npos);
  EXPECT_NE(list_script("/x", 1000).find("-maxdepth 16 "), std::string::npos);
}

TEST(FsScripts, ParsesEntriesIntoProtobufJson) {
  std::string out =
      "f\0375\037644\037user\037user\0371700000000.5000000000\037\037/home/user/b.txt\n"
      "d\0374096\037755\037user\037user\0371700000000.0\037\037/home/user/a\n"
      "l\0372\037777\037user\037user\0371700000000.0\037b.txt\037/home/user/l\n"
      "garbage line\n";
  auto e = parse_entries(out);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0]["path"], "/home/user/a");
  EXPECT_EQ(e[0]["type"], "FILE_TYPE_DIRECTORY");
  EXPECT_EQ(e[0]["permissions"], "drwxr-xr-x");
  EXPECT_EQ(e[1]["name"], "b.txt");
  EXPECT_EQ(e[1]["size"], "5");
  EXPECT_EQ(e[1]["mode"], 420);
  EXPECT_EQ(e[1]["modifiedTime"], "2023-11-14T22:13:20.500Z");
  EXPECT_FALSE(e[1].contains("symlinkTarget"));
  EXPECT_EQ(e[2]["symlinkTarget"], "b.txt");
  EXPECT_EQ(e[2]["permissions"], "Lrwxrwxrwx");
}

}  // namespace
}  // namespace kiln::e2b
