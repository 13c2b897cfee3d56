#include "cli/executor.h"

#include <cstdio>

#include "cli/format.h"
#include "cli/interrupt.h"
#include "cli/progress.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

// Writes to stdout or stderr and keeps the progress line out of the way.
class Terminal {
 public:
  explicit Terminal(Progress& progress) : progress_(progress) {}
  void write(std::FILE* f, const std::string& text) {
    if (text.empty()) return;
    progress_.clear();
    const std::size_t n = std::fwrite(text.data(), 1, text.size(), f);
    if (n != text.size() || std::fflush(f) != 0) closed_ = true;
    ended_line_ = text.back() == '\n';
    progress_.note_output(ended_line_);
  }
  bool ended_line() const { return ended_line_; }
  // The reader went away (kiln run x.py | head -1): writing failed.
  bool closed() const { return closed_; }

 private:
  Progress& progress_;
  bool ended_line_ = true;
  bool closed_ = false;
};

std::string saved_line(const SavedFile& f) {
  std::string what = f.note.empty() ? human_bytes(f.size) : f.note + ", " + human_bytes(f.size);
  return "saved " + f.path + " (" + what + ")\n";
}

}  // namespace

json exec_body(const ExecRequest& req) {
  json body = {{"code", req.code}};
  if (!req.language.empty()) body["language"] = req.language;
  if (req.timeout_s > 0) body["timeout_s"] = req.timeout_s;
  if (!req.env.empty()) body["env"] = req.env;
  return body;
}

std::string format_error(const json& error) {
  if (!error.is_object()) return "";
  const std::string name = error.value("name", "Error");
  const std::string value = error.value("value", "");
  const std::string summary = value.empty() ? name + "\n" : name + ": " + value + "\n";
  std::string tb = error.value("traceback", "");
  if (tb.empty()) return summary;
  if (tb.back() != '\n') tb += '\n';
  // A traceback that ends in another exception than the error's own (a
  // timeout interrupts the code with KeyboardInterrupt) gets the error's
  // own line after it.
  const auto last_start = tb.rfind('\n', tb.size() - 2);
  const std::string last = tb.substr(last_start == std::string::npos ? 0 : last_start + 1);
  if (last.rfind(name, 0) != 0) tb += summary;
  return tb;
}

Result<ExecOutcome> execute_code(const ApiClient& api, const ExecRequest& req, ResultSaver& saver,
                                 const ExecDisplay& display) {
  ExecOutcome out;
  Progress progress(display.label, display.progress && display.live);
  Terminal term(progress);
  Status save_status;
  auto on_event = [&](const json& ev) {
    const std::string type = ev.value("type", "");
    if (type == "stdout" || type == "stderr") {
      const std::string text = ev.value("text", "");
      (type == "stdout" ? out.stdout_text : out.stderr_text) += text;
      if (display.live) term.write(type == "stdout" ? stdout : stderr, text);
    } else if (type == "result") {
      json result = ev;
      result.erase("type");
      const bool image = has_image(result);
      auto saved = saver.save(result);
      json paths = json::array();
      if (!saved) {
        if (save_status) save_status = saved.status();
      } else {
        for (const auto& f : *saved) {
          paths.push_back(f.path);
          result.erase(f.kind);  // on disk now; "files" says where
          out.files.push_back(f);
          if (display.live) term.write(stderr, saved_line(f));
        }
      }
      if (display.live && !image && result.contains("text") && result["text"].is_string()) {
        std::string text = result["text"];
        if (!text.empty() && text.back() != '\n') text += '\n';
        term.write(stdout, text);
      }
      result["files"] = paths;
      out.results.push_back(std::move(result));
    } else if (type == "error") {
      json error = ev;
      error.erase("type");
      out.error = error;
      if (display.live) term.write(stderr, format_error(error));
    } else if (type == "end") {
      out.end = ev;
      out.end.erase("type");
    }
  };
  HttpHooks hooks;
  // Ctrl-C, or nobody reads the output any more: stop the run.
  hooks.cancelled = [&term] { return interrupt::pending() || term.closed(); };
  hooks.on_tick = [&progress] { progress.tick(); };
  Status s = api.stream("/v1/sandboxes/" + url_encode(req.sandbox_id) + "/execute", exec_body(req),
                        on_event, hooks);
  progress.clear();
  out.ended_line = term.ended_line();
  if (!s) {
    if (s.error_number() == kInterruptedErrno) {
      out.interrupted = true;
      out.output_closed = term.closed();
      return out;
    }
    return s;
  }
  if (!save_status) return save_status;
  if (out.end.is_null())
    return Status::internal("the stream from kilnd ended before the run did (no end event)");
  return out;
}

}  // namespace kiln::cli
