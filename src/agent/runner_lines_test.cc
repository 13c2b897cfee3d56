#include "agent/runner_lines.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::agent {
namespace {

struct Fed {
  std::vector<std::string> lines;
  std::vector<std::size_t> overlong;
};

Fed feed_all(LineBuffer& b, const std::vector<std::string>& chunks) {
  Fed f;
  for (const auto& c : chunks) {
    b.feed(
        c, [&](std::string_view l) { f.lines.emplace_back(l); },
        [&](std::size_t n) { f.overlong.push_back(n); });
  }
  return f;
}

TEST(LineBuffer, SplitsAcrossChunks) {
  LineBuffer b(100);
  auto f = feed_all(b, {"ab", "c\nde", "\n\nf"});
  EXPECT_EQ(f.lines, (std::vector<std::string>{"abc", "de", ""}));
  EXPECT_TRUE(f.overlong.empty());
}

TEST(LineBuffer, DropsAnOverlongLineWholeAndRecovers) {
  LineBuffer b(10);
  auto f = feed_all(b, {"0123456", "789abcdef", "ghij", "\nok\n"});
  EXPECT_EQ(f.lines, (std::vector<std::string>{"ok"}));
  ASSERT_EQ(f.overlong.size(), 1u);  // once per line, not per chunk
}

TEST(LineBuffer, OverlongLineEndingInOneChunk) {
  LineBuffer b(4);
  auto f = feed_all(b, {"abcdefgh\nxy\n"});
  EXPECT_EQ(f.lines, (std::vector<std::string>{"xy"}));
  EXPECT_EQ(f.overlong.size(), 1u);
}

TEST(RunnerLines, DecodesEachType) {
  EXPECT_TRUE(std::holds_alternative<RunnerReady>(decode_runner_line(R"({"type":"ready"})")));
  auto r = decode_runner_line(R"({"type":"result","text":"42","is_main_result":true})");
  ASSERT_TRUE(std::holds_alternative<RunnerResult>(r));
  EXPECT_FALSE(std::get<RunnerResult>(r).bundle.contains("type"));
  auto e =
      decode_runner_line(R"({"type":"error","name":"E","value":"v","traceback":"t","line":3})");
  ASSERT_TRUE(std::holds_alternative<RunnerError>(e));
  EXPECT_EQ(std::get<RunnerError>(e).error.line, 3);
  auto d = decode_runner_line(R"({"type":"done","execution_count":4})");
  ASSERT_TRUE(std::holds_alternative<RunnerDone>(d));
  EXPECT_EQ(std::get<RunnerDone>(d).execution_count, 4);
}

TEST(RunnerLines, HostileLinesAreRefusedNeverThrown) {
  const std::string deep =
      "{\"type\":\"result\",\"json\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  for (const std::string& bad :
       {deep, std::string("not json"), std::string("[1]"), std::string(R"({"type":5})"),
        std::string(R"({"type":"launch"})"), std::string("{\"type\":\"res\xff\"}")}) {
    auto m = decode_runner_line(bad);
    EXPECT_TRUE(std::holds_alternative<RunnerRefused>(m)) << bad.substr(0, 40);
  }
  // Wrong field types are read as absent.
  auto d = decode_runner_line(R"({"type":"done","execution_count":"x"})");
  ASSERT_TRUE(std::holds_alternative<RunnerDone>(d));
  EXPECT_EQ(std::get<RunnerDone>(d).execution_count, 0);
  auto e = decode_runner_line(R"({"type":"error","name":["x"],"line":"3"})");
  ASSERT_TRUE(std::holds_alternative<RunnerError>(e));
  EXPECT_EQ(std::get<RunnerError>(e).error.name, "");
  EXPECT_FALSE(std::get<RunnerError>(e).error.line);
}

TEST(RunnerLines, ExecuteLineIsOneLine) {
  auto line = encode_execute_line("print(1)\nprint(2)", {{"A", "b"}});
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["code"], "print(1)\nprint(2)");
  EXPECT_EQ(j["env"]["A"], "b");
}

}  // namespace
}  // namespace kiln::agent
