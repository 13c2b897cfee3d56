#include "mcp/jsonrpc.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln::mcp {
namespace {

using nlohmann::json;

TEST(JsonRpc, ReadsRequestNotificationAndResponse) {
  auto r = parse_message(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"a":1}})");
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kRequest);
  EXPECT_EQ(r.message->id, json(7));
  EXPECT_EQ(r.message->method, "tools/list");
  EXPECT_EQ(r.message->params["a"], 1);

  auto n = parse_message(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  ASSERT_TRUE(n.message);
  EXPECT_EQ(n.message->kind, MessageKind::kNotification);
  EXPECT_TRUE(n.message->params.is_object());

  auto s = parse_message(R"({"jsonrpc":"2.0","id":"x","result":{}})");
  ASSERT_TRUE(s.message);
  EXPECT_EQ(s.message->kind, MessageKind::kResponse);
  EXPECT_EQ(s.message->id, json("x"));
}

TEST(JsonRpc, StringAndIntegerIdsStayApart) {
  EXPECT_NE(id_key(json(5)), id_key(json("5")));
  EXPECT_EQ(id_key(json(5)), id_key(json(5)));
}

TEST(JsonRpc, RefusesWhatIsNotOneMessage) {
  auto bad_json = parse_message("{not json");
  ASSERT_FALSE(bad_json.message);
  EXPECT_EQ(bad_json.failure.code, kParseError);

  auto batch = parse_message(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  ASSERT_FALSE(batch.message);
  EXPECT_EQ(batch.failure.code, kInvalidRequest);
  EXPECT_NE(batch.failure.message.find("batch"), std::string::npos);

  EXPECT_EQ(parse_message("42").failure.code, kInvalidRequest);
  EXPECT_EQ(parse_message(R"({"id":1,"method":"ping"})").failure.code, kInvalidRequest);
  EXPECT_EQ(parse_message(R"({"jsonrpc":"2.0","id":null,"method":"ping"})").failure.code,
            kInvalidRequest);
  EXPECT_EQ(parse_message(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})").failure.code,
            kInvalidRequest);
  EXPECT_EQ(parse_message(R"({"jsonrpc":"2.0","id":1})").failure.code, kInvalidRequest);
  auto bad_params = parse_message(R"({"jsonrpc":"2.0","id":3,"method":"ping","params":[1]})");
  ASSERT_FALSE(bad_params.message);
  ASSERT_TRUE(bad_params.failure.id);  // the id was readable: it is echoed
  EXPECT_EQ(*bad_params.failure.id, json(3));
}

TEST(JsonRpc, BoundsSizeAndDepth) {
  std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}}";
  auto r = parse_message(deep);
  ASSERT_FALSE(r.message);
  EXPECT_EQ(r.failure.code, kInvalidRequest);
  EXPECT_NE(r.failure.message.find("nested deeper"), std::string::npos);

  auto big = parse_message(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", JsonLimits{10, 64});
  ASSERT_FALSE(big.message);
  EXPECT_EQ(big.failure.code, kInvalidRequest);
}

TEST(JsonRpc, BuildsReplies) {
  EXPECT_EQ(dump_message(make_result(json(1), json::object())),
            R"({"id":1,"jsonrpc":"2.0","result":{}})");
  // A null result would make clients reject the message: it becomes {}.
  EXPECT_TRUE(make_result(json(1), nullptr)["result"].is_object());
  auto e = make_error(std::nullopt, kInvalidRequest, "no");
  EXPECT_FALSE(e.contains("id"));  // never "id": null
  EXPECT_FALSE(e["error"].contains("data"));
  auto e2 = make_error(json("a"), kMethodNotFound, "m", json{{"x", 1}});
  EXPECT_EQ(e2["id"], "a");
  EXPECT_EQ(e2["error"]["code"], kMethodNotFound);
  EXPECT_EQ(e2["error"]["data"]["x"], 1);
  // Invalid UTF-8 from a sandbox never throws on the way out.
  EXPECT_NO_THROW(dump_message(json{{"t", std::string("\xff\xfe")}}));
}

}  // namespace
}  // namespace kiln::mcp
