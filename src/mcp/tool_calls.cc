#include "mcp/tool_calls.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <stdexcept>

#include "api/drive_json.h"
#include "api/http_context.h"
#include "api/links.h"
#include "common/ascii.h"
#include "common/languages.h"
#include "common/sandbox_path.h"
#include "egress/policy.h"
#include "mcp/tool_schemas.h"
#include "mcp/tool_text.h"
#include "sandbox/manager.h"
#include "sandbox/run.h"
#include "storage/file_types.h"

namespace kiln::mcp {

using boost::asio::awaitable;
using nlohmann::json;
using SandboxPtr = std::shared_ptr<sandbox::Sandbox>;

namespace {

// A failure the model should read: becomes {isError: true}.
struct ToolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

ToolError from_status(const Status& s, const std::string& context = "") {
  return ToolError(std::string(error_kind_name(s.kind())) + ": " +
                   (context.empty() ? "" : context + ": ") + s.message());
}

// Typed access to `arguments`, refusing what the schema does not allow.
class Args {
 public:
  Args(const json& args, const json& schema) : args_(args) {
    const json& props = schema["properties"];
    for (auto it = args_.begin(); it != args_.end(); ++it) {
      if (!props.contains(it.key())) {
        std::string known;
        for (auto p = props.begin(); p != props.end(); ++p)
          known += (known.empty() ? "" : ", ") + p.key();
        throw ToolError("unknown argument '" + it.key() +
                        "' (this tool takes: " + (known.empty() ? "no arguments" : known) + ")");
      }
    }
  }
  bool has(const char* key) const { return args_.contains(key) && !args_[key].is_null(); }
  std::optional<std::string> opt_string(const char* key) const {
    if (!has(key)) return std::nullopt;
    if (!args_[key].is_string()) throw ToolError(std::string("'") + key + "' must be a string");
    return args_[key].get<std::string>();
  }
  std::string req_string(const char* key) const {
    auto v = opt_string(key);
    if (!v) throw ToolError(std::string("'") + key + "' (a string) is required");
    return *v;
  }
  std::optional<bool> opt_bool(const char* key) const {
    if (!has(key)) return std::nullopt;
    if (!args_[key].is_boolean()) throw ToolError(std::string("'") + key + "' must be a boolean");
    return args_[key].get<bool>();
  }
  std::optional<double> opt_positive(const char* key) const {
    if (!has(key)) return std::nullopt;
    if (!args_[key].is_number() || args_[key].get<double>() <= 0)
      throw ToolError(std::string("'") + key + "' must be a positive number");
    return args_[key].get<double>();
  }
  const json& raw(const char* key) const { return args_[key]; }

 private:
  const json& args_;
};

std::string sandbox_path(const std::string& raw, const char* what) {
  auto p = normalize_sandbox_path(raw);
  if (!p) throw ToolError(std::string(what) + ": " + p.status().message());
  return *p;
}

std::uint64_t run_timeout_ms(const Args& a, const sandbox::Sandbox& sbx, const Config& c) {
  auto v = a.opt_positive("timeout_s");
  if (!v) return sbx.limits.exec_timeout_s * 1000;
  if (*v > static_cast<double>(c.max_limits.exec_timeout_s))
    throw ToolError("'timeout_s' must be at most " + std::to_string(c.max_limits.exec_timeout_s));
  return static_cast<std::uint64_t>(*v * 1000);
}

std::string checked_text(const std::string& s, const char* key, std::uint64_t cap) {
  if (s.size() > cap)
    throw ToolError(std::string("'") + key + "' is " + std::to_string(s.size()) +
                    " bytes, over the " + std::to_string(cap) + "-byte limit");
  if (s.find('\0') != std::string::npos)
    throw ToolError(std::string("'") + key + "' contains a NUL byte");
  return s;
}

json text_result(const std::string& text, json structured = nullptr, bool is_error = false) {
  json r = {{"content", json::array({{{"type", "text"}, {"text", text}}})}, {"isError", is_error}};
  if (structured.is_object()) r["structuredContent"] = std::move(structured);
  return r;
}

class Tools {
 public:
  explicit Tools(ToolCall& c) : c_(c), m_(c.services.manager), config_(m_.config()) {}

  awaitable<json> call(const std::string& name, const Args& a) {
    if (name == "run_code") co_return co_await run_code(a);
    if (name == "run_command") co_return co_await run_command(a);
    if (name == "write_file") co_return co_await write_file(a);
    if (name == "read_file") co_return co_await read_file(a);
    if (name == "list_files") co_return co_await list_files(a);
    if (name == "create_sandbox") co_return co_await create_sandbox(a);
    if (name == "close_sandbox") co_return co_await close_sandbox(a);
    if (name == "upload_from_drive") co_return co_await upload_from_drive(a);
    if (name == "download_to_drive") co_return co_await download_to_drive(a);
    if (name == "list_skills") co_return list_skills(a);
    if (name == "read_skill") co_return co_await read_skill(a);
    throw ToolError("unknown tool " + name);
  }

  const std::string& note() const { return note_; }

 private:
  // The sandbox a call acts on, running: a paused one fails the call with
  // "paused: ..." unless it was created with auto_resume.
  awaitable<SandboxPtr> sandbox_for(const Args& a) {
    SandboxPtr sbx = co_await find_or_create(a);
    if (auto st = co_await m_.ensure_running(sbx); !st) throw from_status(st);
    co_return sbx;
  }

  // sandbox_id's, else the session's own (created on first use; kept alive
  // while the session uses it).
  awaitable<SandboxPtr> find_or_create(const Args& a) {
    Session& s = *c_.session;
    if (auto id = a.opt_string("sandbox_id")) {
      auto sbx = m_.find(*id, s.workspace);
      if (!sbx)
        throw ToolError("not_found: sandbox '" + *id +
                        "' not found (it ended, expired, or was never made); leave sandbox_id "
                        "out to use this session's sandbox, or call create_sandbox");
      co_return sbx;
    }
    if (!s.sandbox_id.empty()) {
      if (auto sbx = m_.find(s.sandbox_id, s.workspace)) {
        static_cast<void>(m_.set_timeout(*sbx, config_.sandbox_timeout_s));
        co_return sbx;
      }
      note_ =
          "note: this session's previous sandbox had ended (idle past its lifetime); a new "
          "one was started, so earlier variables and files are gone.\n";
    }
    sandbox::CreateRequest req;
    req.workspace = s.workspace;
    req.limits = config_.default_limits;
    req.session = "mcp-" + s.id;
    req.metadata = {{"mcp_session", s.id}};
    auto made = co_await m_.create(std::move(req));
    if (!made) throw from_status(made.status(), "creating the session's sandbox");
    SandboxPtr sbx = made->first;
    if (c_.session->ended) {
      // DELETEd while the sandbox was being made: it must not outlive it.
      co_await m_.destroy(sbx->id);
      throw ToolError("unavailable: the MCP session ended");
    }
    s.sandbox_id = sbx->id;
    // A cold sandbox's default Python context is started by a coroutine the
    // manager posted; let it register before this call resolves a context,
    // or the call would start a second "default" one.
    co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                               boost::asio::use_awaitable);
    co_return sbx;
  }

  sandbox::RunSink progress_sink(std::chrono::steady_clock::time_point started) {
    sandbox::RunSink sink;
    if (!c_.progress) return sink;
    sink.on_output = [this, started](const protocol::Output& o) -> awaitable<void> {
      const auto now = std::chrono::steady_clock::now();
      if (!o.text.empty()) last_line_ = last_line(o.text);
      if (now - last_progress_ < std::chrono::milliseconds(500)) co_return;
      last_progress_ = now;
      const double elapsed = std::chrono::duration<double>(now - started).count();
      co_await c_.progress(elapsed, "running for " + std::to_string(static_cast<int>(elapsed)) +
                                        " s: " + last_line_);
    };
    return sink;
  }

  // True while another call of this session is in flight.
  bool other_call_in_flight() const {
    for (const auto& [key, f] : c_.session->in_flight) {
      if (f != c_.in_flight) return true;
    }
    return false;
  }

  awaitable<sandbox::RunOutcome> run(SandboxPtr sbx, sandbox::RunRequest request) {
    // A client sends its next call as soon as it has sent a cancel (over
    // stdio the bridge posts the two on separate connections, so the call
    // may even arrive first), and the interrupted run takes a moment to
    // end. So while another call of this session is in flight, a refusal
    // for a busy context is retried (for at most 5 s).
    boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
    for (int attempt = 0;; ++attempt) {
      sandbox::Run run(m_, sbx, request);
      c_.in_flight->cancel = run.interrupter();
      const auto started = std::chrono::steady_clock::now();
      last_progress_ = started;
      const sandbox::RunSink sink = progress_sink(started);
      auto outcome = co_await run.finish(sink);
      c_.in_flight->cancel = nullptr;
      if (!outcome && outcome.status().kind() == ErrorKind::kConflict && attempt < 250 &&
          other_call_in_flight()) {
        wait.expires_after(std::chrono::milliseconds(20));
        co_await wait.async_wait(boost::asio::use_awaitable);
        continue;
      }
      co_return finish_run(sbx, std::move(outcome));
    }
  }

  sandbox::RunOutcome finish_run(const SandboxPtr& sbx, Result<sandbox::RunOutcome> outcome) {
    if (!outcome) throw from_status(outcome.status());
    if (outcome->sandbox_ended && c_.session->sandbox_id == sbx->id) c_.session->sandbox_id.clear();
    return std::move(*outcome);
  }

  awaitable<json> run_code(const Args& a) {
    protocol::Execute exec;
    exec.code = checked_text(a.req_string("code"), "code", config_.max_code_bytes);
    const std::string language = a.opt_string("language").value_or("");
    const std::string context_id = a.opt_string("context_id").value_or("");
    if (!language.empty() && find_language(language) == nullptr)
      throw ToolError("unknown language '" + language + "' (one of: " + language_names() + ")");
    if (!language.empty() && !context_id.empty())
      throw ToolError("'language' and 'context_id' are exclusive");
    SandboxPtr sbx = co_await sandbox_for(a);
    exec.timeout_ms = run_timeout_ms(a, *sbx, config_);
    exec.output_cap = config_.output_cap_bytes;
    exec.result_cap = config_.result_cap_bytes;
    if (auto q = m_.check_quota(sbx->workspace); !q) throw from_status(q);
    auto context = co_await m_.resolve_context(sbx, context_id, language);
    if (!context) throw from_status(context.status());
    exec.ctx = context->id;
    auto out = co_await run(sbx, std::move(exec));
    co_return code_result(sbx->id, out, note_);
  }

  awaitable<json> run_command(const Args& a) {
    protocol::RunCommand cmd;
    cmd.cmd = checked_text(a.req_string("cmd"), "cmd", config_.max_code_bytes);
    if (auto cwd = a.opt_string("cwd")) cmd.cwd = sandbox_path(*cwd, "cwd");
    cmd.background = a.opt_bool("background").value_or(false);
    SandboxPtr sbx = co_await sandbox_for(a);
    if (!cmd.background || a.has("timeout_s")) cmd.timeout_ms = run_timeout_ms(a, *sbx, config_);
    cmd.env = sbx->env;
    cmd.output_cap = config_.output_cap_bytes;
    if (auto q = m_.check_quota(sbx->workspace); !q) throw from_status(q);
    if (cmd.background) {
      protocol::Request request = std::move(cmd);
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) throw from_status(reply.status());
      auto pid = protocol::decode_pid(*reply);
      if (!pid) throw from_status(pid.status());
      m_.meter_run(*sbx, 0);
      json structured = {{"sandbox_id", sbx->id}, {"pid", *pid}};
      co_return text_result(note_ + "started in the background as pid " + std::to_string(*pid) +
                                " (sandbox " + sbx->id + ")",
                            structured);
    }
    auto out = co_await run(sbx, std::move(cmd));
    co_return command_result(sbx->id, out, note_);
  }

  awaitable<json> write_file(const Args& a) {
    const std::string path = sandbox_path(a.req_string("path"), "path");
    std::string content = a.req_string("content");
    const std::string encoding = a.opt_string("encoding").value_or("utf-8");
    if (encoding == "base64") {
      auto bytes = api::decode_base64(content);
      if (!bytes) throw ToolError("'content' is not valid base64");
      content = std::move(*bytes);
    } else if (encoding != "utf-8") {
      throw ToolError("'encoding' must be utf-8 or base64");
    }
    if (content.size() > config_.sandbox_file_cap())
      throw ToolError("too_large: the file is over the " +
                      std::to_string(config_.sandbox_file_cap()) + "-byte cap");
    SandboxPtr sbx = co_await sandbox_for(a);
    protocol::Request request = protocol::WriteFile{path, std::move(content)};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw from_status(reply.status(), path);
    auto size = protocol::decode_size(*reply);
    if (!size) throw from_status(size.status());
    json structured = {{"sandbox_id", sbx->id}, {"path", path}, {"size", *size}};
    co_return text_result(note_ + "wrote " + std::to_string(*size) + " bytes to " + path,
                          structured);
  }

  awaitable<json> read_file(const Args& a) {
    const std::string path = sandbox_path(a.req_string("path"), "path");
    const auto encoding = a.opt_string("encoding");
    if (encoding && *encoding != "utf-8" && *encoding != "base64")
      throw ToolError("'encoding' must be utf-8 or base64");
    SandboxPtr sbx = co_await sandbox_for(a);
    protocol::Request request = protocol::ReadFile{path, config_.sandbox_file_cap()};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw from_status(reply.status(), path);
    co_return file_result(sbx->id, path, reply->data, encoding.value_or(""), note_);
  }

  awaitable<json> list_files(const Args& a) {
    const std::string path = sandbox_path(a.opt_string("path").value_or("/home/user"), "path");
    SandboxPtr sbx = co_await sandbox_for(a);
    protocol::Request request = protocol::ListFiles{path};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw from_status(reply.status(), path);
    auto entries = protocol::decode_file_entries(*reply);
    if (!entries) throw from_status(entries.status());
    json list = json::array();
    std::string text = note_ + path + ":\n";
    for (const auto& e : *entries) {
      list.push_back({{"name", e.name}, {"path", e.path}, {"type", e.type}, {"size", e.size}});
      text += "  " + e.name + (e.type == "dir" ? "/" : "") +
              (e.type == "file" ? "  (" + std::to_string(e.size) + " bytes)" : "") + "\n";
    }
    if (entries->empty()) text += "  (empty)\n";
    json structured = {{"sandbox_id", sbx->id}, {"path", path}, {"entries", list}};
    co_return text_result(text, structured);
  }

  awaitable<json> create_sandbox(const Args& a) {
    sandbox::CreateRequest req;
    req.workspace = c_.session->workspace;
    req.limits = config_.default_limits;
    if (a.has("timeout_s")) {
      const json& t = a.raw("timeout_s");
      if (!t.is_number_integer() || t.get<std::int64_t>() < 1)
        throw ToolError("'timeout_s' must be a positive integer");
      req.timeout_s = t.get<std::uint64_t>();
    }
    if (a.has("network")) {
      // The same policies as POST /v1/sandboxes, under the workspace's ceiling.
      auto policy = egress::parse_policy(a.raw("network"));
      if (!policy) throw ToolError(policy.status().message());
      req.network = std::move(*policy);
    }
    if (a.has("metadata")) {
      const json& md = a.raw("metadata");
      if (!md.is_object()) throw ToolError("'metadata' must be an object of strings");
      for (auto it = md.begin(); it != md.end(); ++it) {
        if (!it.value().is_string() || it.key().empty())
          throw ToolError("'metadata' must be an object of strings");
      }
      req.metadata = md;
    }
    const std::string language = a.opt_string("language").value_or("");
    if (!language.empty() && find_language(language) == nullptr)
      throw ToolError("unknown language '" + language + "' (one of: " + language_names() + ")");
    auto made = co_await m_.create(std::move(req));
    if (!made) throw from_status(made.status());
    SandboxPtr sbx = made->first;
    if (!language.empty() && language != kDefaultLanguage) {
      auto ctx = co_await m_.create_context(sbx, language, "/home/user", true);
      if (!ctx) {
        co_await m_.destroy(sbx->id);
        throw from_status(ctx.status(), "starting " + language);
      }
    }
    json structured = sbx->to_json(false);
    structured["sandbox_id"] = sbx->id;
    co_return text_result("created sandbox " + sbx->id + " (expires " +
                              structured.value("expires_at", std::string("?")) +
                              "); pass sandbox_id=\"" + sbx->id +
                              "\" to other tools, and close_sandbox when done",
                          structured);
  }

  awaitable<json> close_sandbox(const Args& a) {
    const std::string id = a.req_string("sandbox_id");
    if (!m_.find(id, c_.session->workspace))
      throw ToolError("not_found: sandbox '" + id +
                      "' not found (it ended, expired, or was "
                      "never made)");
    co_await m_.destroy(id);
    if (c_.session->sandbox_id == id) c_.session->sandbox_id.clear();
    json structured = {{"sandbox_id", id}, {"closed", true}};
    co_return text_result("closed sandbox " + id, structured);
  }

  storage::Drive& drive() {
    if (c_.services.drive == nullptr) throw ToolError("unavailable: Drive is not configured");
    return *c_.services.drive;
  }

  awaitable<json> upload_from_drive(const Args& a) {
    storage::Drive& d = drive();
    const std::string drive_path = a.req_string("drive_path");
    std::string target = a.opt_string("sandbox_path").value_or("");
    if (target.empty()) {
      auto slash = drive_path.rfind('/');
      target = slash == std::string::npos ? drive_path : drive_path.substr(slash + 1);
      if (target.empty()) throw ToolError("'drive_path' must name a file");
    }
    const std::string path = sandbox_path(target, "sandbox_path");
    SandboxPtr sbx = co_await sandbox_for(a);
    const std::string workspace = c_.session->workspace;
    auto got = co_await c_.services.pool.run([&] { return d.get(workspace, drive_path); });
    if (!got) throw from_status(got.status(), "Drive " + drive_path);
    const std::uint64_t cap = config_.sandbox_file_cap();
    if (got->bytes.size() > cap)
      throw ToolError("too_large: " + got->file.path + " is over the " + std::to_string(cap) +
                      "-byte cap of a file into a sandbox");
    if (auto st = storage::check_drive_type(got->file.path, got->bytes); !st) throw from_status(st);
    protocol::Request request = protocol::WriteFile{path, std::move(got->bytes)};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw from_status(reply.status(), path);
    auto size = protocol::decode_size(*reply);
    if (!size) throw from_status(size.status());
    json structured = {{"sandbox_id", sbx->id},
                       {"drive_path", got->file.path},
                       {"sandbox_path", path},
                       {"size", *size}};
    co_return text_result(note_ + "copied Drive " + got->file.path + " to " + path + " (" +
                              std::to_string(*size) + " bytes) in sandbox " + sbx->id,
                          structured);
  }

  awaitable<json> download_to_drive(const Args& a) {
    storage::Drive& d = drive();
    const std::string path = sandbox_path(a.req_string("sandbox_path"), "sandbox_path");
    const std::string drive_path = a.req_string("drive_path");
    const bool replace = a.opt_bool("replace").value_or(false);
    SandboxPtr sbx = co_await sandbox_for(a);
    protocol::Request request = protocol::ReadFile{path, config_.sandbox_file_cap()};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw from_status(reply.status(), path);
    const std::string workspace = c_.session->workspace;
    const std::string& bytes = reply->data;
    auto put = co_await c_.services.pool.run(
        [&] { return d.put(workspace, drive_path, bytes, storage::Scope::kPersistent, replace); });
    if (!put) throw from_status(put.status(), "Drive " + drive_path);
    json structured = api::drive_file_json(*put);
    structured["sandbox_id"] = sbx->id;
    structured["sandbox_path"] = path;
    co_return text_result(note_ + "saved " + path + " to Drive " + put->path + " (" +
                              std::to_string(put->size) + " bytes)",
                          structured);
  }

  skills::SkillRegistry& skills() {
    if (c_.services.skills == nullptr) throw ToolError("unavailable: no skills are configured");
    return *c_.services.skills;
  }

  json list_skills(const Args& a) {
    auto lower = [](std::string_view s) { return ascii_lower(s); };
    const std::string query = lower(a.opt_string("query").value_or(""));
    json list = json::array();
    std::string text;
    for (const auto& k : skills().list()) {
      if (!query.empty() && lower(k.name).find(query) == std::string::npos &&
          lower(k.description).find(query) == std::string::npos)
        continue;
      list.push_back({{"name", k.name}, {"description", k.description}});
      text += "- " + k.name + ": " + k.description + "\n";
    }
    if (list.empty())
      text = query.empty() ? "no skills" : "no skill matches '" + query + "'";
    else
      text +=
          "\nread_skill(name) gives a skill's instructions; it is also at /skills/<name> "
          "in the sandbox.";
    json structured = {{"skills", list}};
    return text_result(text, structured);
  }

  awaitable<json> read_skill(const Args& a) {
    skills::SkillRegistry& reg = skills();
    const std::string name = a.req_string("name");
    auto skill = reg.get(name);
    if (!skill)
      throw ToolError("not_found: skill '" + name + "' not found (list_skills lists them)");
    if (auto file = a.opt_string("file")) {
      const std::uint64_t cap = config_.file_cap_bytes;
      const std::string rel = *file;
      auto bytes = co_await c_.services.pool.run([&] { return reg.read_file(name, rel, cap); });
      if (!bytes) {
        if (bytes.status().kind() == ErrorKind::kNotFound)
          throw ToolError("not_found: skill file " + name + "/" + rel + " not found");
        throw from_status(bytes.status());
      }
      json structured = {{"name", name}, {"file", rel}, {"size", bytes->size()}};
      co_return text_result(*bytes, structured);
    }
    std::string text = "# " + skill->name + "\n" + skill->description + "\n\n" + skill->body +
                       "\n\nFiles (at /skills/" + skill->name + "/ in the sandbox):\n";
    for (const auto& f : skill->files) text += "- " + f + "\n";
    json structured = {
        {"name", skill->name}, {"description", skill->description}, {"files", skill->files}};
    co_return text_result(text, structured);
  }

  ToolCall& c_;
  sandbox::SandboxManager& m_;
  const Config& config_;
  std::string note_;
  std::string last_line_;
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace

std::string encode_base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

awaitable<json> call_tool(ToolCall& call, const std::string& name, const json& arguments) {
  const json* def = find_tool(name);
  try {
    if (def == nullptr) throw ToolError("unknown tool " + name);
    const Args args(arguments, (*def)["inputSchema"]);
    Tools tools(call);
    co_return co_await tools.call(name, args);
  } catch (const ToolError& e) {
    co_return text_result(e.what(), nullptr, true);
  } catch (const api::ApiError& e) {
    co_return text_result(e.code + ": " + e.what(), nullptr, true);
  } catch (const json::exception& e) {
    co_return text_result(std::string("bad argument: ") + e.what(), nullptr, true);
  }
}

awaitable<void> end_session(api::Services& services, Session& session) {
  session.ended = true;
  for (auto& [id, f] : session.in_flight) {
    f->cancelled = true;
    if (f->cancel) f->cancel();
  }
  if (session.sandbox_id.empty()) co_return;
  const std::string id = session.sandbox_id;
  session.sandbox_id.clear();
  if (services.manager.find(id, session.workspace)) co_await services.manager.destroy(id);
}

}  // namespace kiln::mcp
