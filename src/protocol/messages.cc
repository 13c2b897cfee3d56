#include "protocol/messages.h"

#include <cerrno>
#include <utility>

#include "common/overloaded.h"

namespace kiln::protocol {
namespace {

using nlohmann::json;

// Size caps for the short fields; long text (code, output, tracebacks) is
// bounded by the frame itself.
constexpr std::size_t kMaxOp = 32;
constexpr std::size_t kMaxId = 128;
constexpr std::size_t kMaxPath = 4096 + 1;
constexpr std::size_t kMaxName = 1024;
constexpr std::size_t kMaxEnvEntries = 1024;
constexpr std::size_t kMaxListEntries = 64;
constexpr std::size_t kMaxText = kMaxJsonBytes;

// Reads typed fields of one JSON object; the first wrong field is
// remembered and every later read returns its default.
class Fields {
 public:
  explicit Fields(const json& obj) : obj_(obj) {}

  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(const char* key, std::size_t max, std::string def = "") {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_string()) return fail(key, "a string", def);
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) return fail(key, "at most " + std::to_string(max) + " bytes", def);
    return s;
  }
  std::uint64_t u64(const char* key, std::uint64_t def = 0) {
    const json* v = find(key);
    if (v == nullptr) return def;
    // Parsed JSON holds non-negative integers as unsigned; built ones may
    // hold them as signed.
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
      return static_cast<std::uint64_t>(v->get<std::int64_t>());
    return fail(key, "an unsigned integer", def);
  }
  std::int64_t i64(const char* key, std::int64_t def = 0) {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_number_integer()) return fail(key, "an integer", def);
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX)
      return fail(key, "a 64-bit signed integer", def);
    return v->get<std::int64_t>();
  }
  std::optional<std::int64_t> opt_i64(const char* key) {
    if (find(key) == nullptr) return std::nullopt;
    return i64(key);
  }
  std::optional<int> opt_int(const char* key) {
    auto v = opt_i64(key);
    if (!v) return std::nullopt;
    if (*v < INT32_MIN || *v > INT32_MAX)
      return fail(key, "a 32-bit integer", std::optional<int>());
    return static_cast<int>(*v);
  }
  bool boolean(const char* key, bool def = false) {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_boolean()) return fail(key, "a boolean", def);
    return v->get<bool>();
  }
  StringMap string_map(const char* key) {
    StringMap out;
    const json* v = find(key);
    if (v == nullptr) return out;
    if (!v->is_object() || v->size() > kMaxEnvEntries)
      return fail(key, "an object of at most 1024 strings", out);
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it.value().is_string()) return fail(key, "an object of strings", StringMap());
      out[it.key()] = it.value().get<std::string>();
    }
    return out;
  }
  std::vector<std::string> string_list(const char* key, std::size_t max_each) {
    std::vector<std::string> out;
    const json* v = find(key);
    if (v == nullptr) return out;
    if (!v->is_array() || v->size() > kMaxListEntries)
      return fail(key, "an array of at most 64 strings", out);
    for (const auto& item : *v) {
      if (!item.is_string() || item.get_ref<const std::string&>().size() > max_each)
        return fail(key, "an array of strings of at most " + std::to_string(max_each) + " bytes",
                    std::vector<std::string>());
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  Status status() const { return status_; }

 private:
  template <typename T>
  T fail(const char* key, const std::string& want, T def) {
    if (status_) status_ = Status::invalid(std::string("'") + key + "' must be " + want);
    return def;
  }

  const json& obj_;
  Status status_;
};

json env_json(const StringMap& env) {
  json j = json::object();
  for (const auto& [k, v] : env) j[k] = v;
  return j;
}

constexpr std::pair<ReplyCode, const char*> kReplyCodes[] = {
    {ReplyCode::kOk, "ok"},
    {ReplyCode::kBadRequest, "bad_request"},
    {ReplyCode::kNotFound, "not_found"},
    {ReplyCode::kConflict, "conflict"},
    {ReplyCode::kTooLarge, "too_large"},
    {ReplyCode::kNoSpace, "insufficient_storage"},
    {ReplyCode::kInternal, "internal"},
};

ReplyCode reply_code_from(const std::string& name) {
  for (const auto& [code, n] : kReplyCodes)
    if (name == n) return code;
  return ReplyCode::kInternal;
}

// The result fields the API knows, by the JSON type each must have.
enum class Kind { kString, kBool, kObject, kAny };
constexpr std::pair<const char*, Kind> kResultFields[] = {
    {"text", Kind::kString}, {"html", Kind::kString},         {"markdown", Kind::kString},
    {"svg", Kind::kString},  {"png", Kind::kString},          {"jpeg", Kind::kString},
    {"pdf", Kind::kString},  {"latex", Kind::kString},        {"javascript", Kind::kString},
    {"json", Kind::kAny},    {"is_main_result", Kind::kBool}, {"chart", Kind::kObject},
    {"data", Kind::kObject}, {"extra", Kind::kObject},
};

bool has_kind(const json& v, Kind k) {
  switch (k) {
    case Kind::kString:
      return v.is_string();
    case Kind::kBool:
      return v.is_boolean();
    case Kind::kObject:
      return v.is_object();
    case Kind::kAny:
      return true;
  }
  return false;
}

// Keeps the known fields of the right type; moves, never copies, the values.
json clean_bundle(json in) {
  json out = json::object();
  if (!in.is_object()) return out;
  for (const auto& [key, kind] : kResultFields) {
    auto it = in.find(key);
    if (it != in.end() && has_kind(*it, kind)) out[key] = std::move(*it);
  }
  if (!out.contains("is_main_result")) out["is_main_result"] = false;
  return out;
}

Result<Request> decode_request_body(const std::string& op, Fields& f, std::string data) {
  if (op == "ping") return Request(Ping{});
  if (op == "ctx_start") {
    return Request(StartContext{f.str("ctx", kMaxId), f.str("language", kMaxName),
                                f.str("cwd", kMaxPath, "/home/user"), f.string_map("env"),
                                f.string_list("preload", kMaxName)});
  }
  if (op == "ctx_stop" || op == "ctx_restart")
    return Request(StopContext{f.str("ctx", kMaxId), op == "ctx_restart"});
  if (op == "exec") {
    Execute e;
    e.ctx = f.str("ctx", kMaxId);
    e.code = f.str("code", kMaxText);
    e.env = f.string_map("env");
    e.timeout_ms = f.u64("timeout_ms");
    e.output_cap = f.u64("output_cap", e.output_cap);
    e.result_cap = f.u64("result_cap", e.result_cap);
    return Request(std::move(e));
  }
  if (op == "interrupt") return Request(Interrupt{f.u64("target")});
  if (op == "cmd") {
    RunCommand c;
    c.cmd = f.str("cmd", kMaxText);
    c.cwd = f.str("cwd", kMaxPath, c.cwd);
    c.env = f.string_map("env");
    c.background = f.boolean("background");
    c.timeout_ms = f.u64("timeout_ms");
    c.output_cap = f.u64("output_cap", c.output_cap);
    c.stdin_data = std::move(data);
    return Request(std::move(c));
  }
  if (op == "cmd_list") return Request(ListCommands{});
  if (op == "cmd_get") return Request(GetCommand{f.i64("pid")});
  if (op == "cmd_kill") return Request(KillCommand{f.i64("pid")});
  if (op == "fs_list") return Request(ListFiles{f.str("path", kMaxPath)});
  if (op == "fs_read") return Request(ReadFile{f.str("path", kMaxPath), f.u64("cap")});
  if (op == "fs_write") return Request(WriteFile{f.str("path", kMaxPath), std::move(data)});
  if (op == "fs_delete") return Request(DeleteFile{f.str("path", kMaxPath)});
  if (op == "fs_mkdir") return Request(MakeDir{f.str("path", kMaxPath)});
  return Status::invalid("unknown op: " + op);
}

}  // namespace

const char* reply_code_name(ReplyCode code) {
  for (const auto& [c, n] : kReplyCodes)
    if (c == code) return n;
  return "internal";
}

bool is_run(const Request& r) {
  if (std::holds_alternative<Execute>(r)) return true;
  if (const auto* c = std::get_if<RunCommand>(&r)) return !c->background;
  return false;
}

Frame encode_request(std::uint64_t rid, Request request) {
  Frame f;
  json& m = f.msg;
  std::visit(Overloaded{
                 [&](Ping&) {
                   m = {{"op", "ping"}};
                 },
                 [&](StartContext& r) {
                   m = {{"op", "ctx_start"},
                        {"ctx", r.ctx},
                        {"language", r.language},
                        {"cwd", r.cwd},
                        {"env", env_json(r.env)}};
                   if (!r.preload.empty()) m["preload"] = r.preload;
                 },
                 [&](StopContext& r) {
                   m = {{"op", r.restart ? "ctx_restart" : "ctx_stop"}, {"ctx", r.ctx}};
                 },
                 [&](Execute& r) {
                   m = {{"op", "exec"},
                        {"ctx", r.ctx},
                        {"code", std::move(r.code)},
                        {"env", env_json(r.env)},
                        {"timeout_ms", r.timeout_ms},
                        {"output_cap", r.output_cap},
                        {"result_cap", r.result_cap}};
                 },
                 [&](Interrupt& r) {
                   m = {{"op", "interrupt"}, {"target", r.target}};
                 },
                 [&](RunCommand& r) {
                   m = {{"op", "cmd"},
                        {"cmd", std::move(r.cmd)},
                        {"cwd", r.cwd},
                        {"env", env_json(r.env)},
                        {"background", r.background},
                        {"timeout_ms", r.timeout_ms},
                        {"output_cap", r.output_cap}};
                   f.data = std::move(r.stdin_data);
                 },
                 [&](ListCommands&) {
                   m = {{"op", "cmd_list"}};
                 },
                 [&](GetCommand& r) {
                   m = {{"op", "cmd_get"}, {"pid", r.pid}};
                 },
                 [&](KillCommand& r) {
                   m = {{"op", "cmd_kill"}, {"pid", r.pid}};
                 },
                 [&](ListFiles& r) {
                   m = {{"op", "fs_list"}, {"path", r.path}};
                 },
                 [&](ReadFile& r) {
                   m = {{"op", "fs_read"}, {"path", r.path}, {"cap", r.cap}};
                 },
                 [&](WriteFile& r) {
                   m = {{"op", "fs_write"}, {"path", r.path}};
                   f.data = std::move(r.data);
                 },
                 [&](DeleteFile& r) {
                   m = {{"op", "fs_delete"}, {"path", r.path}};
                 },
                 [&](MakeDir& r) {
                   m = {{"op", "fs_mkdir"}, {"path", r.path}};
                 },
             },
             request);
  m["rid"] = rid;
  return f;
}

Result<DecodedRequest> decode_request(Frame frame) {
  Fields f(frame.msg);
  const std::string op = f.str("op", kMaxOp);
  const std::uint64_t rid = f.u64("rid");
  if (!f.status()) return f.status();
  auto request = decode_request_body(op, f, std::move(frame.data));
  if (!request) return request.status();
  if (!f.status()) return Status::invalid(op + ": " + f.status().message());
  return DecodedRequest{rid, std::move(*request)};
}

Frame encode_event(std::uint64_t rid, const Event& event) {
  Frame f;
  json& m = f.msg;
  std::visit(
      Overloaded{
          [&](const Hello& e) {
            m = {{"op", "hello"}, {"pid", e.pid}};
          },
          [&](const Output& e) {
            m = {{"op", e.stream == Stream::kStdout ? "stdout" : "stderr"}, {"text", e.text}};
            if (e.notice) m["notice"] = true;
          },
          [&](const ResultEvent& e) {
            m = {{"op", "result"}, {"result", e.bundle}};
          },
          [&](const ErrorEvent& e) {
            json err = {{"name", e.name}, {"value", e.value}, {"traceback", e.traceback}};
            err["line"] = e.line ? json(*e.line) : json(nullptr);
            m = {{"op", "error"}, {"error", std::move(err)}};
          },
          [&](const End& e) {
            m = {{"op", "end"}, {"timed_out", e.timed_out}};
            if (e.execution_count) m["execution_count"] = *e.execution_count;
            if (e.exit_code) m["exit_code"] = *e.exit_code;
            if (e.runner_exit) {
              json x = json::object();
              if (e.runner_exit->code) x["code"] = *e.runner_exit->code;
              if (e.runner_exit->signal) x["signal"] = *e.runner_exit->signal;
              m["runner_exit"] = std::move(x);
            }
            if (e.restarted) m["restarted"] = true;
            if (e.stopped) m["stopped"] = true;
          },
          [&](const Reply& e) {
            m = e.body.is_object() ? e.body : json::object();
            m["op"] = "reply";
            m["ok"] = e.ok();
            if (!e.ok()) {
              m["code"] = reply_code_name(e.code);
              m["message"] = e.message;
            }
            f.data = e.data;
          },
      },
      event);
  m["rid"] = rid;
  return f;
}

Result<DecodedEvent> decode_event(Frame frame) {
  Fields f(frame.msg);
  const std::string op = f.str("op", kMaxOp);
  const std::uint64_t rid = f.u64("rid");
  if (!f.status()) return f.status();
  auto done = [&](Event e) -> Result<DecodedEvent> {
    if (!f.status()) return Status::invalid(op + ": " + f.status().message());
    return DecodedEvent{rid, std::move(e)};
  };
  if (op == "hello") return done(Hello{f.i64("pid")});
  if (op == "stdout" || op == "stderr") {
    return done(Output{op == "stdout" ? Stream::kStdout : Stream::kStderr, f.str("text", kMaxText),
                       f.boolean("notice")});
  }
  if (op == "result") {
    auto it = frame.msg.find("result");
    if (it == frame.msg.end() || !it->is_object())
      return Status::invalid("result: 'result' must be an object");
    return done(ResultEvent{clean_bundle(std::move(*it))});
  }
  if (op == "error") {
    auto it = frame.msg.find("error");
    if (it == frame.msg.end() || !it->is_object())
      return Status::invalid("error: 'error' must be an object");
    Fields e(*it);
    ErrorEvent ev{e.str("name", kMaxName), e.str("value", kMaxText), e.str("traceback", kMaxText),
                  e.opt_i64("line")};
    if (!e.status()) return Status::invalid("error: " + e.status().message());
    return done(std::move(ev));
  }
  if (op == "end") {
    End e;
    e.execution_count = f.opt_i64("execution_count");
    e.exit_code = f.opt_int("exit_code");
    e.timed_out = f.boolean("timed_out");
    e.restarted = f.boolean("restarted");
    e.stopped = f.boolean("stopped");
    if (const json* x = f.find("runner_exit")) {
      if (!x->is_object()) return Status::invalid("end: 'runner_exit' must be an object");
      Fields xf(*x);
      e.runner_exit = ProcessExit{xf.opt_int("code"), xf.opt_int("signal")};
      if (!xf.status()) return Status::invalid("end: " + xf.status().message());
    }
    return done(e);
  }
  if (op == "reply") {
    Reply r;
    if (!f.boolean("ok")) {
      r.code = reply_code_from(f.str("code", kMaxName, "internal"));
      if (r.code == ReplyCode::kOk) r.code = ReplyCode::kInternal;
      r.message = f.str("message", kMaxText, "request failed");
    }
    for (const char* k : {"op", "rid", "ok", "code", "message"}) frame.msg.erase(k);
    r.body = std::move(frame.msg);
    r.data = std::move(frame.data);
    return done(std::move(r));
  }
  return Status::invalid("unknown event op: " + op);
}

Reply ok_reply(json body, std::string data) {
  Reply r;
  r.body = std::move(body);
  r.data = std::move(data);
  return r;
}

Reply refusal(ReplyCode code, std::string message) {
  Reply r;
  r.code = code;
  r.message = std::move(message);
  return r;
}

json file_entries_json(const std::vector<FileEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries) {
    out.push_back({{"name", e.name},
                   {"path", e.path},
                   {"type", e.type},
                   {"size", e.size},
                   {"mtime", e.mtime}});
  }
  return out;
}

Result<std::vector<FileEntry>> decode_file_entries(const Reply& reply) {
  auto it = reply.body.find("entries");
  if (it == reply.body.end() || !it->is_array())
    return Status::invalid("fs_list reply: 'entries' must be an array");
  std::vector<FileEntry> out;
  out.reserve(it->size());
  for (const auto& j : *it) {
    if (!j.is_object()) return Status::invalid("fs_list reply: an entry is not an object");
    Fields f(j);
    FileEntry e{f.str("name", kMaxPath), f.str("path", kMaxPath), f.str("type", 16), f.u64("size"),
                f.i64("mtime")};
    if (!f.status()) return Status::invalid("fs_list reply: " + f.status().message());
    out.push_back(std::move(e));
  }
  return out;
}

json command_json(const CommandInfo& c) {
  json j = {{"pid", c.pid}, {"cmd", c.cmd}, {"running", c.running}};
  j["exit_code"] = c.exit_code ? json(*c.exit_code) : json(nullptr);
  if (c.stdout_text) j["stdout"] = *c.stdout_text;
  if (c.stderr_text) j["stderr"] = *c.stderr_text;
  return j;
}

Result<CommandInfo> decode_command(const json& j) {
  if (!j.is_object()) return Status::invalid("command: not an object");
  Fields f(j);
  CommandInfo c{f.i64("pid"),           f.str("cmd", kMaxText), f.boolean("running"),
                f.opt_int("exit_code"), std::nullopt,           std::nullopt};
  if (f.find("stdout")) c.stdout_text = f.str("stdout", kMaxText);
  if (f.find("stderr")) c.stderr_text = f.str("stderr", kMaxText);
  if (!f.status()) return Status::invalid("command: " + f.status().message());
  return c;
}

Result<std::vector<CommandInfo>> decode_command_list(const Reply& reply) {
  auto it = reply.body.find("commands");
  if (it == reply.body.end() || !it->is_array())
    return Status::invalid("cmd_list reply: 'commands' must be an array");
  std::vector<CommandInfo> out;
  for (const auto& j : *it) {
    auto c = decode_command(j);
    if (!c) return c.status();
    out.push_back(std::move(*c));
  }
  return out;
}

Result<CommandInfo> decode_command_reply(const Reply& reply) {
  auto it = reply.body.find("command");
  if (it == reply.body.end()) return Status::invalid("cmd_get reply: no 'command'");
  return decode_command(*it);
}

Result<std::int64_t> decode_pid(const Reply& reply) {
  Fields f(reply.body);
  const std::int64_t pid = f.i64("pid");
  if (!f.status()) return f.status();
  return pid;
}

Result<std::uint64_t> decode_size(const Reply& reply) {
  Fields f(reply.body);
  const std::uint64_t size = f.u64("size");
  if (!f.status()) return f.status();
  return size;
}

}  // namespace kiln::protocol
