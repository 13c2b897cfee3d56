#include "mcp/tool_text.h"

#include "mcp/tool_calls.h"

namespace kiln::mcp {

using nlohmann::json;

namespace {

// Text results over this are cut (the whole value stays in
// structuredContent when it is small enough to matter).
constexpr std::size_t kMaxTextItem = 64 * 1024;

std::string capped(const std::string& s) {
  if (s.size() <= kMaxTextItem) return s;
  return s.substr(0, kMaxTextItem) + "\n… (" + std::to_string(s.size() - kMaxTextItem) +
         " more bytes not shown)";
}

std::string with_notice(const std::string& text, const std::string& notice) {
  if (notice.empty()) return text;
  return text + (text.empty() || text.back() == '\n' ? "" : "\n") + notice;
}

void section(std::string& out, const std::string& title, const std::string& body) {
  if (body.empty()) return;
  out += title + ":\n" + capped(body);
  if (out.back() != '\n') out += '\n';
}

json image(const std::string& data, const char* mime) {
  return {{"type", "image"}, {"data", data}, {"mimeType", mime}};
}

}  // namespace

std::string last_line(std::string_view text) {
  std::size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
  std::size_t start = text.rfind('\n', end == 0 ? 0 : end - 1);
  start = start == std::string_view::npos ? 0 : start + 1;
  if (start > end) start = end;
  return std::string(text.substr(start, std::min<std::size_t>(end - start, 200)));
}

std::string last_lines(std::string_view text, std::size_t n) {
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  std::size_t start = end;
  for (std::size_t lines = 0; lines < n && start > 0; ++lines) {
    auto nl = text.rfind('\n', start - 1);
    start = nl == std::string_view::npos ? 0 : nl;
    if (start == 0) break;
  }
  if (start < end && text[start] == '\n') ++start;
  return std::string(text.substr(start, end - start));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (c < 0x80)
      len = 1;
    else if ((c >> 5) == 0x6 && c >= 0xc2)
      len = 2;
    else if ((c >> 4) == 0xe)
      len = 3;
    else if ((c >> 3) == 0x1e && c <= 0xf4)
      len = 4;
    else
      return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    if (len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) return false;
    }
    if (len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90)) return false;
    }
    i += len;
  }
  return true;
}

json code_result(const std::string& sandbox_id, const sandbox::RunOutcome& out,
                 const std::string& note) {
  json content = json::array();
  json results = json::array();
  std::string text = note;
  const std::string out_text = with_notice(out.stdout_text, out.stdout_notice);
  const std::string err_text = with_notice(out.stderr_text, out.stderr_notice);
  section(text, "stdout", out_text);
  section(text, "stderr", err_text);
  json images = json::array();
  int n = 0;
  for (const auto& r : out.results) {
    ++n;
    const bool main = r.value("is_main_result", false);
    const std::string label = main ? "result" : "display " + std::to_string(n);
    json summary = {{"is_main_result", main}, {"types", json::array()}};
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (it.key() != "is_main_result") summary["types"].push_back(it.key());
    }
    if (r.contains("png") && r["png"].is_string()) {
      images.push_back(image(r["png"], "image/png"));
    } else if (r.contains("jpeg") && r["jpeg"].is_string()) {
      images.push_back(image(r["jpeg"], "image/jpeg"));
    }
    const bool is_image = r.contains("png") || r.contains("jpeg");
    if (r.contains("text") && r["text"].is_string()) {
      summary["text"] = r["text"];
      if (!is_image) section(text, label, r["text"].get<std::string>());
    }
    if (is_image)
      text += label + ": an image (" + (r.contains("png") ? "PNG" : "JPEG") + "), attached\n";
    if (r.contains("html") && r["html"].is_string())
      section(text, label + " (text/html)", r["html"].get<std::string>());
    if (r.contains("markdown") && r["markdown"].is_string())
      section(text, label + " (text/markdown)", r["markdown"].get<std::string>());
    if (r.contains("json"))
      section(text, label + " (application/json)",
              r["json"].dump(2, ' ', false, json::error_handler_t::replace));
    if (r.contains("svg") && r["svg"].is_string())
      section(text, label + " (image/svg+xml)", r["svg"].get<std::string>());
    if (r.contains("latex") && r["latex"].is_string())
      section(text, label + " (text/latex)", r["latex"].get<std::string>());
    if (r.contains("pdf")) text += label + ": a PDF (application/pdf), not shown\n";
    if (r.contains("json")) summary["json"] = r["json"];
    results.push_back(std::move(summary));
  }
  bool is_error = false;
  json error = nullptr;
  if (out.error.is_object()) {
    is_error = true;
    const std::string name = out.error.value("name", std::string("Error"));
    const std::string value = out.error.value("value", std::string());
    const std::string tb = out.error.value("traceback", std::string());
    text += "error: " + name + (value.empty() ? "" : ": " + value) + "\n";
    if (!tb.empty()) text += "traceback (last lines):\n" + last_lines(tb, 8) + "\n";
    text += "(the sandbox and its state are kept)\n";
    error = {{"name", name}, {"value", value}, {"traceback", tb}};
    if (out.error.contains("line")) error["line"] = out.error["line"];
  }
  if (out.timed_out) {
    is_error = true;
    text += "error: the run timed out and was stopped\n";
  }
  if (out.sandbox_ended) {
    is_error = true;
    text += "error: the sandbox ended during the run (out of memory?); its state is gone\n";
  }
  if (text.empty()) text = "(no output)";
  content.push_back({{"type", "text"}, {"text", text}});
  for (auto& i : images) content.push_back(std::move(i));
  json structured = {{"sandbox_id", sandbox_id},
                     {"stdout", out_text},
                     {"stderr", err_text},
                     {"results", results},
                     {"error", error},
                     {"execution_count", out.execution_count},
                     {"duration_ms", out.duration_ms},
                     {"timed_out", out.timed_out}};
  return {{"content", content}, {"structuredContent", structured}, {"isError", is_error}};
}

json command_result(const std::string& sandbox_id, const sandbox::RunOutcome& out,
                    const std::string& note) {
  const int exit_code = out.exit_code.value_or(-1);
  const std::string out_text = with_notice(out.stdout_text, out.stdout_notice);
  const std::string err_text = with_notice(out.stderr_text, out.stderr_notice);
  std::string text = note + "exit code " + std::to_string(exit_code) + "\n";
  section(text, "stdout", out_text);
  section(text, "stderr", err_text);
  if (out.timed_out) text += "error: the command timed out and was killed\n";
  if (out.sandbox_ended) text += "error: the sandbox ended during the command; its state is gone\n";
  json structured = {
      {"sandbox_id", sandbox_id}, {"exit_code", exit_code},         {"stdout", out_text},
      {"stderr", err_text},       {"duration_ms", out.duration_ms}, {"timed_out", out.timed_out}};
  return {{"content", json::array({{{"type", "text"}, {"text", text}}})},
          {"structuredContent", structured},
          {"isError", exit_code != 0 || out.timed_out || out.sandbox_ended}};
}

json file_result(const std::string& sandbox_id, const std::string& path, const std::string& bytes,
                 const std::string& encoding, const std::string& note) {
  const bool text_ok = valid_utf8(bytes) && bytes.find('\0') == std::string::npos;
  if (encoding == "utf-8" && !text_ok) {
    return {{"content", json::array({{{"type", "text"},
                                      {"text", path + " is not UTF-8 text; read it with "
                                                      "encoding=base64"}}})},
            {"isError", true}};
  }
  const bool as_text = encoding == "utf-8" || (encoding.empty() && text_ok);
  json content = json::array();
  json structured = {{"sandbox_id", sandbox_id},
                     {"path", path},
                     {"size", bytes.size()},
                     {"encoding", as_text ? "utf-8" : "base64"}};
  const std::string b64 = as_text ? "" : encode_base64(bytes);
  if (as_text) {
    content.push_back({{"type", "text"}, {"text", note + bytes}});
    structured["content"] = bytes;
  } else {
    content.push_back({{"type", "text"}, {"text", note + b64}});
    structured["content"] = b64;
    const bool png = bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
    const bool jpeg = bytes.rfind("\xff\xd8\xff", 0) == 0;
    if (png || jpeg) content.push_back(image(b64, png ? "image/png" : "image/jpeg"));
  }
  return {{"content", content}, {"structuredContent", structured}, {"isError", false}};
}

}  // namespace kiln::mcp
