#include "mcp/tool_schemas.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kiln::mcp {
namespace {

using nlohmann::json;

// The table of issue 11: every tool, its required and optional arguments.
const std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> kTable =
    {
        {"run_code", {{"code"}, {"language", "sandbox_id", "context_id", "timeout_s"}}},
        {"run_command", {{"cmd"}, {"sandbox_id", "cwd", "timeout_s", "background"}}},
        {"write_file", {{"path", "content"}, {"sandbox_id", "encoding"}}},
        {"read_file", {{"path"}, {"sandbox_id", "encoding"}}},
        {"list_files", {{}, {"path", "sandbox_id"}}},
        {"create_sandbox", {{}, {"language", "timeout_s", "network", "metadata"}}},
        {"close_sandbox", {{"sandbox_id"}, {}}},
        {"upload_from_drive", {{"drive_path"}, {"sandbox_path", "sandbox_id"}}},
        {"download_to_drive", {{"sandbox_path", "drive_path"}, {"replace", "sandbox_id"}}},
        {"list_skills", {{}, {"query"}}},
        {"read_skill", {{"name"}, {"file"}}},
};

TEST(ToolSchemas, MatchTheTable) {
  const json& tools = tool_definitions();
  ASSERT_EQ(tools.size(), kTable.size());
  for (const auto& t : tools) {
    const std::string name = t["name"];
    ASSERT_TRUE(kTable.count(name)) << name;
    const auto& [required, optional] = kTable.at(name);
    const json& s = t["inputSchema"];
    EXPECT_EQ(s["type"], "object") << name;
    EXPECT_EQ(s["additionalProperties"], false) << name;
    std::set<std::string> want_req(required.begin(), required.end());
    std::set<std::string> got_req;
    if (s.contains("required")) got_req = s["required"].get<std::set<std::string>>();
    EXPECT_EQ(got_req, want_req) << name;
    std::set<std::string> props;
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      props.insert(it.key());
      EXPECT_TRUE(it.value().contains("description")) << name << "." << it.key();
      // A type, or alternatives that each have one (a string or an object).
      const json& prop = it.value();
      bool typed = prop.contains("type");
      if (!typed && prop.contains("anyOf")) {
        typed = std::all_of(prop["anyOf"].begin(), prop["anyOf"].end(),
                            [](const json& alt) { return alt.contains("type"); });
      }
      EXPECT_TRUE(typed) << name << "." << it.key();
    }
    std::set<std::string> want_props = want_req;
    want_props.insert(optional.begin(), optional.end());
    EXPECT_EQ(props, want_props) << name;
    EXPECT_GT(t["description"].get<std::string>().size(), 20u) << name;
  }
}

TEST(ToolSchemas, FindsByName) {
  ASSERT_NE(find_tool("run_code"), nullptr);
  EXPECT_EQ((*find_tool("run_code"))["name"], "run_code");
  EXPECT_EQ(find_tool("nope"), nullptr);
}

}  // namespace
}  // namespace kiln::mcp
