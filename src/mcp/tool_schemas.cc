#include "mcp/tool_schemas.h"

namespace kiln::mcp {

using nlohmann::json;

namespace {

json str(const char* description) { return {{"type", "string"}, {"description", description}}; }

json sandbox_id_prop() {
  return str(
      "Sandbox to use (an id from create_sandbox). Leave out to use this MCP session's own "
      "sandbox, created on first use and ended with the session.");
}

json object_schema(json properties, json required) {
  json s = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

json tool(const char* name, const char* title, const char* description, json input_schema,
          bool read_only, bool destructive) {
  return {{"name", name},
          {"title", title},
          {"description", description},
          {"inputSchema", std::move(input_schema)},
          {"annotations",
           {{"title", title},
            {"readOnlyHint", read_only},
            {"destructiveHint", destructive},
            {"openWorldHint", false}}}};
}

json build() {
  const json language = {{"type", "string"},
                         {"enum", {"python", "javascript", "typescript", "bash"}},
                         {"description", "Language of the code (default python)."}};
  const json timeout = {{"type", "number"},
                        {"exclusiveMinimum", 0},
                        {"description",
                         "Seconds before the run is stopped (default: the "
                         "sandbox's limit, 60 unless configured)."}};
  const json encoding = {{"type", "string"},
                         {"enum", {"utf-8", "base64"}},
                         {"description", "utf-8 (default) for text, base64 for binary files."}};
  json tools = json::array();
  tools.push_back(tool(
      "run_code", "Run code",
      "Run Python, JavaScript, TypeScript or Bash in a stateful sandbox (variables, imports and "
      "files persist between calls in the same sandbox). Returns stdout, stderr, the value of the "
      "last expression, and rich results: matplotlib figures (plt.show() or a figure as the last "
      "expression) come back as PNG images, pandas DataFrames as text and HTML. An exception "
      "returns isError with its name, message and traceback; the sandbox keeps its state. Python "
      "has numpy, pandas, matplotlib, scipy, openpyxl and reportlab; there is no network unless "
      "the sandbox was created with a network policy.",
      object_schema(
          {{"code", str("The code to run.")},
           {"language", language},
           {"sandbox_id", sandbox_id_prop()},
           {"context_id", str("An execution context (separate interpreter state) in the sandbox; "
                              "leave out for the language's default context.")},
           {"timeout_s", timeout}},
          {"code"}),
      false, false));
  tools.push_back(tool(
      "run_command", "Run a shell command",
      "Run a shell command (bash -c) in the sandbox, as an unprivileged user in /home/user. "
      "Returns the exit code, stdout and stderr; a non-zero exit is reported as an error. With "
      "background=true it returns at once with the process id.",
      object_schema({{"cmd", str("The command line, e.g. \"ls -la\" or \"pip list | head\".")},
                     {"sandbox_id", sandbox_id_prop()},
                     {"cwd", str("Working folder (default /home/user).")},
                     {"timeout_s", timeout},
                     {"background",
                      {{"type", "boolean"},
                       {"description",
                        "Start it and return at once (default "
                        "false)."}}}},
                    {"cmd"}),
      false, false));
  tools.push_back(tool(
      "write_file", "Write a file",
      "Write a file into the sandbox (parent folders are created; an existing file is replaced). "
      "Relative paths are under /home/user, where code runs.",
      object_schema({{"path", str("File path, e.g. \"data.csv\" or \"/home/user/out/a.txt\".")},
                     {"content", str("The file's content: text, or base64 with encoding=base64.")},
                     {"sandbox_id", sandbox_id_prop()},
                     {"encoding", encoding}},
                    {"path", "content"}),
      false, true));
  tools.push_back(tool(
      "read_file", "Read a file",
      "Read a file from the sandbox. Text comes back as text; a binary file as base64 (and a PNG "
      "or JPEG also as an image).",
      object_schema({{"path", str("File path; relative paths are under /home/user.")},
                     {"sandbox_id", sandbox_id_prop()},
                     {"encoding", encoding}},
                    {"path"}),
      true, false));
  tools.push_back(tool("list_files", "List files",
                       "List a folder in the sandbox: name, type (file, dir, symlink) and size.",
                       object_schema({{"path", str("Folder to list (default /home/user).")},
                                      {"sandbox_id", sandbox_id_prop()}},
                                     json::array()),
                       true, false));
  tools.push_back(tool(
      "create_sandbox", "Create a sandbox",
      "Create a separate sandbox and return its id (in structuredContent.sandbox_id and in the "
      "text). Pass the id as sandbox_id to other tools. Most tasks do not need this: tools "
      "without sandbox_id use the session's own sandbox. End it with close_sandbox.",
      object_schema(
          {{"language", language},
           {"timeout_s",
            {{"type", "integer"},
             {"minimum", 1},
             {"description", "Lifetime in seconds (default 300)."}}},
           {"network",
            {{"anyOf",
              json::array({{{"type", "string"}, {"enum", json::array({"none", "internet"})}},
                           {{"type", "object"},
                            {"properties",
                             {{"allow", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                              {"deny", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
                            {"additionalProperties", false}}})},
             {"description",
              "Network access (default \"none\"): \"internet\" for any public "
              "address, or {\"allow\": [\"pypi.org\", \"*.pythonhosted.org\", "
              "\"api.example.com:443\", \"203.0.113.0/24\"], \"deny\": [...]}. "
              "The operator's ceiling for the workspace may refuse it. Code reaches "
              "allowed hosts through the HTTP(S) proxy in $HTTPS_PROXY."}}},
           {"metadata",
            {{"type", "object"},
             {"additionalProperties", {{"type", "string"}}},
             {"description", "String labels to keep with the sandbox."}}}},
          json::array()),
      false, false));
  tools.push_back(tool(
      "close_sandbox", "Close a sandbox", "End a sandbox and everything in it (processes, files).",
      object_schema({{"sandbox_id", str("The sandbox to end.")}}, {"sandbox_id"}), false, true));
  tools.push_back(
      tool("upload_from_drive", "Copy a file from Drive into the sandbox",
           "Copy a file from the workspace's Drive (persistent storage) into the sandbox.",
           object_schema({{"drive_path", str("Drive path, e.g. \"/data/sales.csv\".")},
                          {"sandbox_path", str("Where to put it (default: its file name in "
                                               "/home/user).")},
                          {"sandbox_id", sandbox_id_prop()}},
                         {"drive_path"}),
           false, false));
  tools.push_back(tool(
      "download_to_drive", "Save a sandbox file to Drive",
      "Copy a file the code made in the sandbox into the workspace's Drive, where it outlives "
      "the sandbox.",
      object_schema({{"sandbox_path", str("The file in the sandbox, e.g. \"chart.png\".")},
                     {"drive_path", str("Drive path to save it at, e.g. \"/reports/chart.png\".")},
                     {"replace",
                      {{"type", "boolean"},
                       {"description",
                        "Overwrite a file already at drive_path "
                        "(default false)."}}},
                     {"sandbox_id", sandbox_id_prop()}},
                    {"sandbox_path", "drive_path"}),
      false, true));
  tools.push_back(
      tool("list_skills", "List skills",
           "List the skills: tested instructions and templates for common jobs (data analysis, "
           "charts, Excel and PDF reports). They are also mounted read-only at /skills in every "
           "sandbox.",
           object_schema({{"query", str("Only skills whose name or description contains this "
                                        "(case-insensitive).")}},
                         json::array()),
           true, false));
  tools.push_back(
      tool("read_skill", "Read a skill",
           "Read a skill's instructions (SKILL.md) and the list of its files, or one of its files.",
           object_schema({{"name", str("The skill's name, from list_skills.")},
                          {"file", str("A file of the skill (e.g. \"chart.py\"); leave out for the "
                                       "instructions.")}},
                         {"name"}),
           true, false));
  return tools;
}

}  // namespace

const json& tool_definitions() {
  static const json tools = build();
  return tools;
}

const json* find_tool(std::string_view name) {
  for (const auto& t : tool_definitions()) {
    if (t["name"] == name) return &t;
  }
  return nullptr;
}

}  // namespace kiln::mcp
