#include "agent/run_output.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::agent {
namespace {

struct Recorder : EventSink {
  std::vector<std::pair<std::uint64_t, protocol::Event>> events;
  void send(std::uint64_t rid, protocol::Event e) override {
    events.emplace_back(rid, std::move(e));
  }
  std::string text(protocol::Stream s, bool notice) const {
    std::string out;
    for (const auto& [rid, e] : events)
      if (auto* o = std::get_if<protocol::Output>(&e); o && o->stream == s && o->notice == notice)
        out += o->text;
    return out;
  }
  std::size_t count_results() const {
    std::size_t n = 0;
    for (const auto& [rid, e] : events) n += std::holds_alternative<protocol::ResultEvent>(e);
    return n;
  }
};

TEST(RunOutput, OutputIsCappedPerStreamWithANoticeBeforeEnd) {
  Recorder rec;
  RunOutput out(rec, 9, 10, 1000);
  out.output(protocol::Stream::kStdout, "0123456789abc");
  out.output(protocol::Stream::kStdout, "more");
  out.output(protocol::Stream::kStderr, "err");
  out.end({});
  EXPECT_EQ(rec.text(protocol::Stream::kStdout, false), "0123456789");
  EXPECT_EQ(rec.text(protocol::Stream::kStderr, false), "err");
  const std::string notice = rec.text(protocol::Stream::kStdout, true);
  EXPECT_NE(notice.find("truncated at 10 bytes; 7 bytes dropped"), std::string::npos) << notice;
  EXPECT_TRUE(std::holds_alternative<protocol::End>(rec.events.back().second));
  for (const auto& [rid, e] : rec.events) EXPECT_EQ(rid, 9u);
}

TEST(RunOutput, CutNeverSplitsAUtf8Character) {
  Recorder rec;
  RunOutput out(rec, 1, 4, 1000);
  out.output(protocol::Stream::kStdout, "ab\xc3\xa9\xc3\xa9");  // "abéé"
  out.end({});
  EXPECT_EQ(rec.text(protocol::Stream::kStdout, false), "ab\xc3\xa9");
}

TEST(RunOutput, InvalidUtf8IsReplacedBeforeTheCap) {
  Recorder rec;
  RunOutput out(rec, 1, 9, 1000);
  out.output(protocol::Stream::kStdout,
             "a\xff\xfe"
             "bcdefgh");
  out.end({});
  const std::string text = rec.text(protocol::Stream::kStdout, false);
  EXPECT_EQ(text,
            "a\xef\xbf\xbd\xef\xbf\xbd"
            "bc");  // 9 bytes of valid UTF-8
  EXPECT_LE(text.size(), 9u);
}

TEST(RunOutput, ResultsShareOneBudget) {
  Recorder rec;
  RunOutput out(rec, 1, 100, 250);
  for (int i = 0; i < 5; ++i) out.result({{"text", "x"}}, 100);
  out.end({});
  EXPECT_EQ(rec.count_results(), 2u);
  const std::string notice = rec.text(protocol::Stream::kStderr, true);
  EXPECT_NE(notice.find("3 result(s) dropped (300 bytes)"), std::string::npos) << notice;
  EXPECT_NE(notice.find("capped at 250 bytes"), std::string::npos) << notice;
}

TEST(RunOutput, ErrorsAreNeverDroppedButCutToSize) {
  Recorder rec;
  RunOutput out(rec, 1, 10, 10);
  out.result({{"text", "x"}}, 100);  // over the budget: dropped
  out.error({"E", std::string(1 << 20, 'v'), std::string(1 << 20, 't'), 3});
  out.end({});
  const protocol::ErrorEvent* err = nullptr;
  for (const auto& [rid, e] : rec.events)
    if (auto* x = std::get_if<protocol::ErrorEvent>(&e)) err = x;
  ASSERT_NE(err, nullptr);
  EXPECT_LE(err->value.size(), kMaxErrorValue + 32);
  EXPECT_LE(err->traceback.size(), kMaxErrorTraceback + 32);
  EXPECT_NE(err->value.find("[kiln: truncated]"), std::string::npos);
  EXPECT_EQ(err->line, 3);
}

TEST(RunOutput, RefusedMessageIsAnErrorForTheRun) {
  Recorder rec;
  RunOutput out(rec, 1, 10, 1000);
  out.refused(300000, "a runner message: JSON is nested deeper than 124 levels");
  out.end({});
  const protocol::ErrorEvent* err = nullptr;
  for (const auto& [rid, e] : rec.events)
    if (auto* x = std::get_if<protocol::ErrorEvent>(&e)) err = x;
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->name, "ResultError");
  EXPECT_NE(err->value.find("deeper than 124"), std::string::npos);
  EXPECT_NE(rec.text(protocol::Stream::kStderr, true).find("300000 bytes"), std::string::npos);
}

}  // namespace
}  // namespace kiln::agent
