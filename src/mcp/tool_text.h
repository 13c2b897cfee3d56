// Rendering a sandbox's answers as MCP CallToolResults: one text item an
// LLM reads (stdout, stderr, the main result, the error with the
// traceback's last lines), an image item per PNG/JPEG result, and the same
// facts in structuredContent for programs.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sandbox/run.h"

namespace kiln::mcp {

// run_code's result; isError when the code raised or timed out.
nlohmann::json code_result(const std::string& sandbox_id, const sandbox::RunOutcome& out,
                           const std::string& note);
// run_command's result; isError on a non-zero exit or a timeout.
nlohmann::json command_result(const std::string& sandbox_id, const sandbox::RunOutcome& out,
                              const std::string& note);
// read_file's result. encoding "" picks utf-8 for valid UTF-8, else base64;
// a PNG or JPEG also comes as an image item.
nlohmann::json file_result(const std::string& sandbox_id, const std::string& path,
                           const std::string& bytes, const std::string& encoding,
                           const std::string& note);

// The last non-empty line of `text`, at most 200 bytes.
std::string last_line(std::string_view text);
// The last `n` lines of `text`.
std::string last_lines(std::string_view text, std::size_t n);
// True when `bytes` is valid UTF-8.
bool valid_utf8(std::string_view bytes);

}  // namespace kiln::mcp
