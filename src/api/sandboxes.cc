// /v1/sandboxes: create, list, get, delete, extend, pause, resume.
#include "api/routes.h"
#include "egress/policy.h"
#include "sandbox/packages.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

const json& field(const json& body, const char* key, json::value_t type, const char* type_name) {
  static const json null_value;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return null_value;
  if (it->type() != type && !(type == json::value_t::number_unsigned && it->is_number_integer()) &&
      !(type == json::value_t::number_float && it->is_number())) {
    throw bad_request(std::string("'") + key + "' must be " + type_name);
  }
  return *it;
}

std::uint64_t positive_int(const json& v, const std::string& name) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
    throw bad_request("'" + name + "' must be a non-negative integer");
  return v.get<std::uint64_t>();
}

void check_string_map(const json& j, const char* name) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      throw bad_request(std::string("'") + name + "' values must be strings");
    if (it.key().empty() || it.key().find('=') != std::string::npos ||
        it.key().find('\0') != std::string::npos)
      throw bad_request(std::string("'") + name + "' has an invalid key");
  }
}

sandbox::CreateRequest parse_create(const json& body, const Config& config) {
  sandbox::CreateRequest req;
  req.limits = config.default_limits;
  if (auto& t = field(body, "template", json::value_t::string, "a string"); !t.is_null()) {
    req.template_name = t.get<std::string>();
    if (req.template_name != "default") throw bad_request("unknown template: " + req.template_name);
  }
  if (auto& t = field(body, "timeout_s", json::value_t::number_unsigned, "an integer");
      !t.is_null())
    req.timeout_s = positive_int(t, "timeout_s");
  if (auto& s = field(body, "session", json::value_t::string, "a string"); !s.is_null()) {
    req.session = s.get<std::string>();
    if (req.session.size() > 256) throw bad_request("'session' is longer than 256 characters");
  }
  if (auto& e = field(body, "env", json::value_t::object, "an object"); !e.is_null()) {
    check_string_map(e, "env");
    for (auto it = e.begin(); it != e.end(); ++it) req.env[it.key()] = it.value();
  }
  if (auto& md = field(body, "metadata", json::value_t::object, "an object"); !md.is_null()) {
    check_string_map(md, "metadata");
    req.metadata = md;
  }
  if (auto& a = field(body, "auto_resume", json::value_t::boolean, "a boolean"); !a.is_null())
    req.auto_resume = a.get<bool>();
  if (auto n = body.find("network"); n != body.end() && !n->is_null()) {
    auto policy = egress::parse_policy(*n);
    if (!policy) throw bad_request(policy.status().message());
    req.network = std::move(*policy);
  }
  if (auto& l = field(body, "limits", json::value_t::object, "an object"); !l.is_null()) {
    for (auto it = l.begin(); it != l.end(); ++it) {
      const std::string& k = it.key();
      if (k == "memory_mb")
        req.limits.memory_mb = positive_int(it.value(), "limits.memory_mb");
      else if (k == "pids")
        req.limits.pids = positive_int(it.value(), "limits.pids");
      else if (k == "disk_mb")
        req.limits.disk_mb = positive_int(it.value(), "limits.disk_mb");
      else if (k == "exec_timeout_s")
        req.limits.exec_timeout_s = positive_int(it.value(), "limits.exec_timeout_s");
      else if (k == "cpus") {
        if (!it.value().is_number()) throw bad_request("'limits.cpus' must be a number");
        req.limits.cpus = it.value().get<double>();
      } else {
        throw bad_request("unknown limit: " + k);
      }
    }
  }
  return req;
}

}  // namespace

awaitable<void> handle_sandboxes(HttpContext& ctx, Manager& m) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (seg.size() == 2) {
    if (method == http::verb::post) {
      const json body = ctx.json_body({"template", "timeout_s", "session", "env", "metadata",
                                       "network", "limits", "auto_resume", "packages"});
      auto req = parse_create(body, m.config());
      req.workspace = ctx.workspace();
      sandbox::PackageList packages;
      if (auto p = body.find("packages"); p != body.end() && !p->is_null()) {
        auto parsed = sandbox::parse_packages(*p);
        if (!parsed) throw api_error_from(parsed.status());
        packages = std::move(*parsed);
      }
      auto made = co_await m.create(std::move(req));
      if (!made) throw api_error_from(made.status());
      // Before the first execution; a session that already existed has them.
      if (made->second && !packages.empty()) {
        Status installed = co_await sandbox::install_packages(m, made->first, std::move(packages));
        if (!installed) {
          co_await m.destroy(made->first->id);
          throw api_error_from(installed);
        }
      }
      co_return co_await ctx.send_json(made->second ? 201 : 200, made->first->to_json(false));
    }
    if (method == http::verb::get) {
      json list = json::array();
      for (auto& s : m.list(ctx.workspace())) list.push_back(s->to_json(false));
      nlohmann::json lit1_ = {{"sandboxes", list}};
      co_return co_await ctx.send_json(200, lit1_);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 3) {
    if (method == http::verb::get) {
      auto sbx = require_sandbox(m, ctx, seg[2]);
      co_return co_await ctx.send_json(200, sbx->to_json(true));
    }
    if (method == http::verb::delete_) {
      require_sandbox(m, ctx, seg[2]);
      co_await m.destroy(seg[2]);
      co_return co_await ctx.send_empty(204);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 4 && seg[3] == "timeout" && method == http::verb::post) {
    auto sbx = require_sandbox(m, ctx, seg[2]);
    auto body = ctx.json_body({"timeout_s"});
    if (!body.contains("timeout_s")) throw bad_request("'timeout_s' is required");
    if (auto s = m.set_timeout(*sbx, positive_int(body["timeout_s"], "timeout_s")); !s)
      throw api_error_from(s);
    co_return co_await ctx.send_json(200, sbx->to_json(false));
  }
  if (seg.size() == 4 && (seg[3] == "pause" || seg[3] == "resume")) {
    if (method != http::verb::post) throw ApiError(405, "method_not_allowed", "method not allowed");
    auto sbx = require_sandbox(m, ctx, seg[2]);
    Status st;
    if (seg[3] == "pause") {
      auto body = ctx.json_body({"persist"});
      if (auto& p = field(body, "persist", json::value_t::boolean, "a boolean");
          !p.is_null() && p.get<bool>()) {
        throw api_error_from(Status::conflict(
            "pause {\"persist\": true} (to disk) needs the gvisor runtime (\"runtime\": "
            "\"gvisor\" at create); this sandbox runs on the namespaces runtime, which pauses "
            "in memory only"));
      }
      st = co_await m.pause(sbx);
    } else {
      (void)ctx.json_body({});
      st = co_await m.resume(sbx);
    }
    if (!st) throw api_error_from(st);
    co_return co_await ctx.send_json(200, sbx->to_json(false));
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
