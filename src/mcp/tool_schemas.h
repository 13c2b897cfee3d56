// The tools kilnd's MCP server offers: names, descriptions an LLM can act
// on, and JSON Schemas (2020-12) for their arguments.
//
// Thread-safety: immutable data.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kiln::mcp {

// Every tool definition, as tools/list sends it for `version`.
const nlohmann::json& tool_definitions();
// The definition of `name`, or null when there is no such tool.
const nlohmann::json* find_tool(std::string_view name);

}  // namespace kiln::mcp
