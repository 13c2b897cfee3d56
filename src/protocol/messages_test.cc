#include "protocol/messages.h"

#include <gtest/gtest.h>

namespace kiln::protocol {
namespace {

using nlohmann::json;

// Through the wire format and back, as the two processes see it.
template <typename T>
T round_trip_request(Request r) {
  auto bytes = encode_frame(encode_request(7, std::move(r)));
  EXPECT_TRUE(bytes);
  FrameDecoder d;
  d.feed(bytes->data(), bytes->size());
  auto frame = d.next();
  EXPECT_TRUE(frame && frame->has_value());
  auto decoded = decode_request(std::move(**frame));
  EXPECT_TRUE(decoded) << decoded.status().message();
  EXPECT_EQ(decoded->rid, 7u);
  return std::get<T>(decoded->request);
}

Result<DecodedEvent> decode_json(const json& msg, std::string data = "") {
  Frame f{msg, std::move(data), 0};
  return decode_event(std::move(f));
}

TEST(Messages, ExecuteRoundTrip) {
  Execute e;
  e.ctx = "ctx_1";
  e.code = "print(1)";
  e.env = {{"K", "V"}};
  e.timeout_ms = 500;
  e.output_cap = 10;
  e.result_cap = 20;
  auto got = round_trip_request<Execute>(e);
  EXPECT_EQ(got.ctx, "ctx_1");
  EXPECT_EQ(got.code, "print(1)");
  EXPECT_EQ(got.env.at("K"), "V");
  EXPECT_EQ(got.timeout_ms, 500u);
  EXPECT_EQ(got.output_cap, 10u);
  EXPECT_EQ(got.result_cap, 20u);
}

TEST(Messages, CommandCarriesStdinAsPayload) {
  RunCommand c;
  c.cmd = "cat";
  c.stdin_data = std::string("a\0b", 3);
  c.background = true;
  auto got = round_trip_request<RunCommand>(c);
  EXPECT_EQ(got.stdin_data, std::string("a\0b", 3));
  EXPECT_TRUE(got.background);
  EXPECT_EQ(got.cwd, "/home/user");
}

TEST(Messages, StopAndRestartShareOneType) {
  EXPECT_FALSE(round_trip_request<StopContext>(StopContext{"c", false}).restart);
  EXPECT_TRUE(round_trip_request<StopContext>(StopContext{"c", true}).restart);
}

TEST(Messages, StartContextCarriesItsPreloadList) {
  StartContext s{"c", "python", "/home/user", {}, {"numpy", "matplotlib.pyplot"}};
  auto got = round_trip_request<StartContext>(s);
  EXPECT_EQ(got.preload, (std::vector<std::string>{"numpy", "matplotlib.pyplot"}));
  EXPECT_TRUE(round_trip_request<StartContext>(StartContext{"c", "python", "/home/user", {}, {}})
                  .preload.empty());
}

TEST(Messages, PreloadListIsBoundedAtDecode) {
  json many = json::array();
  for (int i = 0; i < 65; ++i) many.push_back("m");
  for (const json& bad :
       {json("numpy"), json::array({1}), many, json::array({std::string(2000, 'a')})}) {
    Frame f{
        {{"rid", 1}, {"op", "ctx_start"}, {"ctx", "c"}, {"language", "python"}, {"preload", bad}},
        "",
        0};
    auto r = decode_request(std::move(f));
    ASSERT_FALSE(r) << bad.dump().substr(0, 80);
    EXPECT_NE(r.status().message().find("'preload'"), std::string::npos) << r.status().message();
  }
}

TEST(Messages, RequestWithWrongTypesIsRefused) {
  auto bad = decode_request({{{"op", "exec"}, {"rid", 1}, {"timeout_ms", "soon"}}, "", 0});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("timeout_ms"), std::string::npos);
  EXPECT_FALSE(decode_request({{{"op", 5}, {"rid", 1}}, "", 0}));
  EXPECT_FALSE(decode_request({{{"op", "nope"}, {"rid", 1}}, "", 0}));
  EXPECT_FALSE(decode_request({{{"op", "exec"}, {"rid", -1}}, "", 0}));
}

TEST(Messages, EventsRoundTrip) {
  for (const Event& e :
       {Event(Output{Stream::kStderr, "x", true}), Event(ErrorEvent{"E", "v", "tb", 3}),
        Event(ResultEvent{{{"text", "42"}, {"is_main_result", true}}}),
        Event(End{5, std::nullopt, true, ProcessExit{std::nullopt, 9}, true, false}),
        Event(refusal(ReplyCode::kConflict, "busy")), Event(Hello{1})}) {
    auto bytes = encode_frame(encode_event(3, e));
    ASSERT_TRUE(bytes);
    FrameDecoder d;
    d.feed(bytes->data(), bytes->size());
    auto frame = d.next();
    ASSERT_TRUE(frame && frame->has_value());
    auto back = decode_event(std::move(**frame));
    ASSERT_TRUE(back) << back.status().message();
    EXPECT_EQ(back->event.index(), e.index());
  }
}

TEST(Messages, EndFieldsSurvive) {
  End in;
  in.execution_count = 5;
  in.timed_out = true;
  in.runner_exit = ProcessExit{std::nullopt, 9};
  in.restarted = true;
  auto back = decode_event(encode_event(1, in));
  ASSERT_TRUE(back);
  const End& out = std::get<End>(back->event);
  EXPECT_EQ(out.execution_count, 5);
  EXPECT_TRUE(out.timed_out);
  ASSERT_TRUE(out.runner_exit);
  EXPECT_EQ(out.runner_exit->signal, 9);
  EXPECT_TRUE(out.restarted);
  EXPECT_FALSE(out.stopped);
}

TEST(Messages, HostileEventShapesAreRefusedNotThrown) {
  const json cases[] = {
      {{"op", "stdout"}, {"rid", 1}, {"text", 5}},
      {{"op", "stdout"}, {"rid", "1"}, {"text", "x"}},
      {{"op", "result"}, {"rid", 1}, {"result", "not an object"}},
      {{"op", "error"}, {"rid", 1}, {"error", {{"name", {1, 2}}}}},
      {{"op", "error"}, {"rid", 1}, {"error", {{"line", "seven"}}}},
      {{"op", "end"}, {"rid", 1}, {"execution_count", "x"}},
      {{"op", "end"}, {"rid", 1}, {"exit_code", 1e300}},
      {{"op", "end"}, {"rid", 1}, {"runner_exit", 9}},
      {{"op", "end"}, {"rid", 1}, {"exit_code", 99999999999}},
      {{"op", "reply"}, {"rid", 1}, {"ok", "yes"}},
      {{"op", "launch"}, {"rid", 1}},
      {{"rid", 1}},
  };
  for (const auto& c : cases) EXPECT_FALSE(decode_json(c)) << c.dump();
}

TEST(Messages, ResultBundleKeepsOnlyKnownFieldsOfTheRightType) {
  auto e = decode_json({{"op", "result"},
                        {"rid", 1},
                        {"result",
                         {{"text", "t"},
                          {"png", 5},
                          {"json", {{"a", 1}}},
                          {"type", "end"},
                          {"is_main_result", "yes"},
                          {"chart", {{"type", "line"}}},
                          {"rogue", "x"}}}});
  ASSERT_TRUE(e);
  const json& b = std::get<ResultEvent>(e->event).bundle;
  EXPECT_EQ(b["text"], "t");
  EXPECT_FALSE(b.contains("png"));
  EXPECT_FALSE(b.contains("type"));
  EXPECT_FALSE(b.contains("rogue"));
  EXPECT_EQ(b["json"]["a"], 1);
  EXPECT_EQ(b["is_main_result"], false);  // wrong type: dropped, then defaulted
  EXPECT_EQ(b["chart"]["type"], "line");
}

TEST(Messages, UnknownReplyCodeIsInternal) {
  auto e = decode_json({{"op", "reply"}, {"rid", 1}, {"ok", false}, {"code", "teapot"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<Reply>(e->event).code, ReplyCode::kInternal);
  auto ok = decode_json({{"op", "reply"}, {"rid", 1}, {"ok", true}, {"pid", 4}});
  ASSERT_TRUE(ok);
  auto pid = decode_pid(std::get<Reply>(ok->event));
  ASSERT_TRUE(pid);
  EXPECT_EQ(*pid, 4);
}

TEST(Messages, TypedReplyBodiesAreChecked) {
  Reply r = ok_reply({{"entries", {{{"name", "a"}, {"size", -1}}}}});
  EXPECT_FALSE(decode_file_entries(r));
  Reply good =
      ok_reply({{"entries",
                 {{{"name", "a"}, {"path", "/a"}, {"type", "file"}, {"size", 3}, {"mtime", 10}}}}});
  auto entries = decode_file_entries(good);
  ASSERT_TRUE(entries);
  EXPECT_EQ((*entries)[0].size, 3u);
  EXPECT_FALSE(decode_command_list(ok_reply({{"commands", {1}}})));
  EXPECT_FALSE(decode_size(ok_reply({{"size", "big"}})));
}

}  // namespace
}  // namespace kiln::protocol
