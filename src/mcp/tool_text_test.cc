#include "mcp/tool_text.h"

#include <gtest/gtest.h>

#include "mcp/tool_calls.h"

namespace kiln::mcp {
namespace {

using nlohmann::json;

TEST(ToolText, CodeResultHasTextAndImages) {
  sandbox::RunOutcome out;
  out.stdout_text = "hello\n";
  out.results = json::array({{{"is_main_result", true}, {"text", "42"}},
                             {{"is_main_result", false}, {"text", "<Figure>"}, {"png", "iVBOR"}}});
  auto r = code_result("sbx_1", out, "");
  EXPECT_EQ(r["isError"], false);
  ASSERT_EQ(r["content"].size(), 2u);
  const std::string text = r["content"][0]["text"];
  EXPECT_NE(text.find("stdout:\nhello"), std::string::npos);
  EXPECT_NE(text.find("result:\n42"), std::string::npos);
  EXPECT_EQ(text.find("<Figure>"), std::string::npos);
  EXPECT_EQ(r["content"][1]["type"], "image");
  EXPECT_EQ(r["content"][1]["mimeType"], "image/png");
  EXPECT_EQ(r["content"][1]["data"], "iVBOR");
  EXPECT_EQ(r["structuredContent"]["sandbox_id"], "sbx_1");
}

TEST(ToolText, CodeErrorIsAnErrorWithTracebackTail) {
  sandbox::RunOutcome out;
  out.error = {{"name", "ZeroDivisionError"},
               {"value", "division by zero"},
               {"traceback", "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\n"}};
  auto r = code_result("s", out, "");
  EXPECT_EQ(r["isError"], true);
  const std::string text = r["content"][0]["text"];
  EXPECT_NE(text.find("ZeroDivisionError: division by zero"), std::string::npos);
  EXPECT_NE(text.find("l10"), std::string::npos);
  EXPECT_EQ(text.find("l2\n"), std::string::npos);
}

TEST(ToolText, CommandExitCodeDecidesError) {
  sandbox::RunOutcome out;
  out.exit_code = 3;
  out.stderr_text = "boom";
  auto r = command_result("s", out, "");
  EXPECT_EQ(r["isError"], true);
  EXPECT_EQ(r["structuredContent"]["exit_code"], 3);
  out.exit_code = 0;
  EXPECT_EQ(command_result("s", out, "")["isError"], false);
}

TEST(ToolText, FileResultPicksEncoding) {
  auto text = file_result("s", "/home/user/a.txt", "héllo", "", "");
  EXPECT_EQ(text["structuredContent"]["encoding"], "utf-8");
  EXPECT_EQ(text["content"][0]["text"], "héllo");
  const std::string png("\x89PNG\r\n\x1a\n\x00\x01", 10);
  auto bin = file_result("s", "/home/user/a.png", png, "", "");
  EXPECT_EQ(bin["structuredContent"]["encoding"], "base64");
  EXPECT_EQ(bin["content"][0]["text"], encode_base64(png));
  ASSERT_EQ(bin["content"].size(), 2u);
  EXPECT_EQ(bin["content"][1]["mimeType"], "image/png");
  EXPECT_EQ(file_result("s", "p", png, "utf-8", "")["isError"], true);
  EXPECT_EQ(file_result("s", "p", "abc", "base64", "")["content"][0]["text"], "YWJj");
}

TEST(ToolText, Lines) {
  EXPECT_EQ(last_line("a\nb\n"), "b");
  EXPECT_EQ(last_line(""), "");
  EXPECT_EQ(last_lines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(last_lines("a", 3), "a");
  EXPECT_TRUE(valid_utf8("héllo"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_EQ(encode_base64(""), "");
  EXPECT_EQ(encode_base64("ab"), "YWI=");
}

}  // namespace
}  // namespace kiln::mcp
