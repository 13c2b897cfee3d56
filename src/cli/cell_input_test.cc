#include "cli/cell_input.h"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

TEST(CellInput, PythonSimpleLinesAreComplete) {
  EXPECT_TRUE(cell_complete("x = 1", "python"));
  EXPECT_TRUE(cell_complete("print('a:')  # ends with a colon in a string", "python"));
  EXPECT_TRUE(cell_complete("d = {'a': 1}", "python"));
}

TEST(CellInput, PythonOpenBracketsStringsAndContinuations) {
  EXPECT_FALSE(cell_complete("f(1,", "python"));
  EXPECT_TRUE(cell_complete("f(1,\n2)", "python"));
  EXPECT_FALSE(cell_complete("s = '''doc", "python"));
  EXPECT_TRUE(cell_complete("s = '''doc\nmore'''", "python"));
  EXPECT_FALSE(cell_complete("x = 1 + \\", "python"));
  EXPECT_TRUE(cell_complete("x = ')'", "python"));
  EXPECT_TRUE(cell_complete("x = '\\''", "python"));
}

TEST(CellInput, PythonBlocksEndWithABlankLine) {
  EXPECT_FALSE(cell_complete("for i in range(3):", "python"));
  EXPECT_FALSE(cell_complete("for i in range(3):\n    print(i)", "python"));
  EXPECT_TRUE(cell_complete("for i in range(3):\n    print(i)\n", "python"));
  EXPECT_FALSE(cell_complete("@decorator", "python"));
  EXPECT_FALSE(cell_complete("if x:  # comment", "python"));
  EXPECT_TRUE(cell_complete("d = {\n  'k':\n  1}", "python"));
}

TEST(CellInput, JavaScriptBracketsCommentsAndTemplates) {
  EXPECT_FALSE(cell_complete("function f() {", "javascript"));
  EXPECT_TRUE(cell_complete("function f() {\n  return 1\n}", "javascript"));
  EXPECT_TRUE(cell_complete("const s = '{' // {", "javascript"));
  EXPECT_FALSE(cell_complete("const t = `line", "typescript"));
  EXPECT_TRUE(cell_complete("const t = `line\n${x}`", "typescript"));
  EXPECT_FALSE(cell_complete("/* open comment", "javascript"));
  EXPECT_TRUE(cell_complete("/* { */ x", "javascript"));
}

TEST(CellInput, BashCompoundCommands) {
  EXPECT_TRUE(cell_complete("echo hi", "bash"));
  EXPECT_FALSE(cell_complete("for f in *; do", "bash"));
  EXPECT_TRUE(cell_complete("for f in *; do\n  echo $f\ndone", "bash"));
  EXPECT_FALSE(cell_complete("if true; then", "bash"));
  EXPECT_TRUE(cell_complete("if true; then echo y; fi", "bash"));
  EXPECT_FALSE(cell_complete("echo 'open", "bash"));
  EXPECT_TRUE(cell_complete("echo 'it\\'", "bash"));  // no escapes in '...'
  EXPECT_TRUE(cell_complete("echo $# # if", "bash"));
  EXPECT_FALSE(cell_complete("f() {", "bash"));
  EXPECT_FALSE(cell_complete("echo a \\", "bash"));
}

}  // namespace
}  // namespace kiln::cli
