// E2B's control plane: create, connect, get, list, kill, timeout, and the
// template look-ups, and the network options (as Kiln egress policies), over
// Kiln's SandboxManager. What needs a runtime Kiln does not have yet (pause
// to disk, snapshots, fork, metrics, template builds, request transforms)
// answers 501 with the reason, never a pretend success.
#include <algorithm>
#include <cmath>
#include <optional>

#include "api/e2b_routes.h"
#include "api/routes.h"
#include "common/bounded_json.h"
#include "e2b/list_query.h"
#include "e2b/network_options.h"
#include "e2b/tokens.h"
#include "egress/policy.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;
using sandbox::Sandbox;

namespace {

constexpr JsonLimits kControlJsonLimits{1u << 20, 16};
constexpr std::size_t kMaxMapEntries = 256;
constexpr std::size_t kMaxMapText = 4096;

ApiError e2b_error(int status, const std::string& message) {
  return ApiError(status, "e2b", message);
}

ApiError not_available(const std::string& what, const std::string& why) {
  return e2b_error(501, what + " is not available in Kiln: " + why + " (see docs/E2B.md)");
}

const char* const kNeedsGvisor =
    "it needs the gVisor runtime's checkpoint/restore, which this Kiln does not have yet";

const char* const kOwnEgress =
    "Kiln's egress proxy allows and denies hosts and CIDRs (allowOut/denyOut), nothing more";

// Template ids and aliases that name Kiln's one sandbox image.
bool known_template(const std::string& id) {
  return id == "base" || id == "code-interpreter-v1" || id == "code-interpreter" || id == "default";
}

json body_object(const HttpContext& ctx) {
  const std::string& text = ctx.request().body();
  if (text.empty()) return json::object();
  auto j = parse_bounded_json(text, kControlJsonLimits);
  if (!j) throw e2b_error(400, "request body: " + j.status().message());
  if (!j->is_object()) throw e2b_error(400, "request body must be a JSON object");
  return std::move(*j);
}

// A {string: string} field, bounded.
std::map<std::string, std::string> string_map(const json& body, const char* key) {
  std::map<std::string, std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_object()) throw e2b_error(400, std::string("'") + key + "' must be an object");
  if (it->size() > kMaxMapEntries)
    throw e2b_error(400, std::string("'") + key + "' has more than 256 entries");
  for (auto e = it->begin(); e != it->end(); ++e) {
    if (!e.value().is_string())
      throw e2b_error(400, std::string("'") + key + "' values must be strings");
    const std::string v = e.value();
    if (e.key().empty() || e.key().size() > kMaxMapText || v.size() > kMaxMapText ||
        e.key().find('\0') != std::string::npos || v.find('\0') != std::string::npos)
      throw e2b_error(400, std::string("'") + key + "' has an invalid entry");
    out[e.key()] = v;
  }
  return out;
}

std::optional<std::uint64_t> seconds(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
    throw e2b_error(400, std::string("'") + key + "' must be a non-negative integer (seconds)");
  return it->get<std::uint64_t>();
}

bool flag(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_boolean() && it->get<bool>();
}

// Egress options beyond allow/deny lists (egress/policy.h has no header
// transforms and no upstream proxy; one node has no per-port ingress).
void refuse_unsupported_network(const json& n) {
  auto given = [&n](const char* key) {
    auto it = n.find(key);
    return it != n.end() && !it->is_null() && !(it->is_array() && it->empty()) &&
           !(it->is_object() && it->empty()) &&
           !(it->is_string() && it->get_ref<const std::string&>().empty());
  };
  if (given("rules")) throw not_available("network.rules (request transforms)", kOwnEgress);
  if (given("egressProxy")) throw not_available("network.egressProxy", kOwnEgress);
  if (given("httpsPorts"))
    throw not_available("network.httpsPorts", "Kiln has no per-port ingress");
  if (given("maskRequestHost"))
    throw not_available("network.maskRequestHost", "Kiln has no per-port ingress");
}

// The sandbox's egress policy from E2B's options (e2b/network_options.h).
std::optional<egress::Policy> policy_from(const json& body, bool flat) {
  auto value = e2b::kiln_network(body, flat);
  if (!value) throw e2b_error(400, value.status().message());
  if (!value->has_value()) return std::nullopt;
  auto policy = egress::parse_policy(**value);
  if (!policy) throw e2b_error(400, policy.status().message());
  return std::move(*policy);
}

// Refuses what Kiln cannot honour instead of silently not doing it.
void refuse_unsupported(const json& body) {
  if (auto n = body.find("network"); n != body.end() && n->is_object()) {
    refuse_unsupported_network(*n);
    if (auto p = n->find("allowPublicTraffic"); p != n->end() && p->is_boolean() && p->get<bool>())
      throw not_available("public traffic", "Kiln has no per-port ingress");
  }
  if (flag(body, "autoPause")) throw not_available("auto-pause", kNeedsGvisor);
  if (auto r = body.find("autoResume"); r != body.end() && r->is_object() && flag(*r, "enabled"))
    throw not_available("auto-resume", kNeedsGvisor);
  if (auto v = body.find("volumeMounts"); v != body.end() && v->is_array() && !v->empty())
    throw not_available("volume mounts", "Kiln has no E2B volumes");
  if (auto m = body.find("mcp"); m != body.end() && !m->is_null())
    throw not_available("the MCP gateway", "Kiln runs no MCP gateway");
}

std::string template_of(Services& s, const Sandbox& sbx) {
  auto* rec = s.e2b.find(sbx.id);
  return rec ? rec->template_id : "base";
}

void remember(Services& s, const Sandbox& sbx, const std::string& template_id) {
  e2b::SandboxRecord rec;
  rec.workspace = sbx.workspace;
  rec.template_id = template_id;
  if (auto* old = s.e2b.find(sbx.id)) rec.processes = std::move(old->processes);
  Manager& m = s.manager;
  s.e2b.add(sbx.id, std::move(rec),
            [&m, ws = sbx.workspace](const std::string& id) { return m.find(id, ws) != nullptr; });
}

json sandbox_json(Services& s, const Sandbox& sbx) {
  return {
      {"sandboxID", sbx.id},
      {"templateID", template_of(s, sbx)},
      {"clientID", "kiln"},
      {"envdVersion", kEnvdVersion},
      {"envdAccessToken", e2b::sandbox_token(s.link_secret, e2b::TokenKind::kEnvd, sbx.id)},
      {"trafficAccessToken", e2b::sandbox_token(s.link_secret, e2b::TokenKind::kTraffic, sbx.id)},
      {"domain", nullptr}};
}

json listed_json(Services& s, const Sandbox& sbx) {
  json md = json::object();
  for (auto it = sbx.metadata.begin(); it != sbx.metadata.end(); ++it)
    if (it.value().is_string()) md[it.key()] = it.value();
  return {{"sandboxID", sbx.id},
          {"templateID", template_of(s, sbx)},
          {"clientID", "kiln"},
          {"startedAt", sandbox::rfc3339(sbx.created_at)},
          {"endAt", sandbox::rfc3339(sbx.deadline())},
          {"cpuCount", std::max(1, static_cast<int>(std::ceil(sbx.limits.cpus)))},
          {"memoryMB", sbx.limits.memory_mb},
          {"diskSizeMB", sbx.limits.disk_mb},
          {"state", sbx.paused() ? "paused" : "running"},
          {"envdVersion", kEnvdVersion},
          {"metadata", md}};
}

std::shared_ptr<Sandbox> require(Services& s, const HttpContext& ctx, const std::string& id) {
  auto sbx = s.manager.find(id, ctx.workspace());
  if (!sbx || sbx->ending) throw e2b_error(404, "sandbox \"" + id + "\" not found");
  return sbx;
}

awaitable<void> create(HttpContext& ctx, Services& s, bool v2) {
  json body = body_object(ctx);
  refuse_unsupported(body);
  std::string template_id = "base";
  if (auto t = body.find("templateID"); t != body.end() && !t->is_null()) {
    if (!t->is_string()) throw e2b_error(400, "'templateID' must be a string");
    template_id = *t;
  }
  if (!known_template(template_id)) {
    throw e2b_error(404, "template '" + template_id +
                             "' not found: Kiln has one image, named 'base' and "
                             "'code-interpreter-v1' (template builds are not supported)");
  }
  sandbox::CreateRequest req;
  req.workspace = ctx.workspace();
  req.limits = s.manager.config().default_limits;
  req.timeout_s = seconds(body, "timeout").value_or(v2 ? 300 : 15);
  for (auto& [k, v] : string_map(body, "envVars")) {
    if (k.find('=') != std::string::npos) throw e2b_error(400, "envVars names may not hold '='");
    req.env[k] = v;
  }
  req.metadata = json::object();
  for (auto& [k, v] : string_map(body, "metadata")) req.metadata[k] = v;
  if (auto policy = policy_from(body, false)) req.network = std::move(*policy);
  auto made = co_await s.manager.create(std::move(req));
  if (!made) {
    ApiError e = api_error_from(made.status());
    throw e2b_error(e.status, e.what());
  }
  remember(s, *made->first, template_id);
  const json out = sandbox_json(s, *made->first);
  co_await ctx.send_json(201, out);
}

// Newest first (or oldest with order=asc); a page starts at the token.
awaitable<void> list(HttpContext& ctx, Services& s, bool v2) {
  auto filter = e2b::parse_metadata_filter(ctx.query("metadata"));
  if (!filter) throw e2b_error(400, filter.status().message());
  auto states = e2b::parse_states(v2 ? ctx.query("state") : "running");
  if (!states) throw e2b_error(400, states.status().message());
  std::size_t limit = 100;
  if (ctx.has_query("limit")) {
    const std::string l = ctx.query("limit");
    if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(l) < 1 || std::stoul(l) > 100)
      throw e2b_error(400, "'limit' must be between 1 and 100");
    limit = std::stoul(l);
  }
  const bool asc = ctx.query("order") == "asc";
  const std::string tmpl = ctx.query("template");
  std::vector<std::shared_ptr<Sandbox>> all;
  {
    for (auto& sbx : s.manager.list(ctx.workspace())) {
      if (sbx->ending || !states->count(sbx->paused() ? "paused" : "running")) continue;
      bool match = tmpl.empty() || template_of(s, *sbx) == tmpl;
      for (auto& [k, v] : *filter) {
        auto it = sbx->metadata.find(k);
        match = match && it != sbx->metadata.end() && it->is_string() && *it == v;
      }
      if (match) all.push_back(sbx);
    }
  }
  using Key = std::pair<std::int64_t, std::string>;
  auto key = [](const Sandbox& x) {
    return Key(
        std::chrono::duration_cast<std::chrono::microseconds>(x.created_at.time_since_epoch())
            .count(),
        x.id);
  };
  std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
    return asc ? key(*a) < key(*b) : key(*b) < key(*a);
  });
  std::size_t start = 0;
  if (const std::string token = ctx.query("nextToken"); !token.empty()) {
    // The token is "<start µs>_<id>" of the page's first sandbox.
    const auto us = token.find('_');
    if (us == std::string::npos || us == 0 || us > 20 ||
        token.find_first_not_of("0123456789") != us)
      throw e2b_error(400, "invalid nextToken");
    const Key t(std::stoll(token.substr(0, us)), token.substr(us + 1));
    while (start < all.size() && (asc ? key(*all[start]) < t : t < key(*all[start]))) ++start;
  }
  json out = json::array();
  for (std::size_t i = start; i < all.size() && out.size() < limit; ++i)
    out.push_back(listed_json(s, *all[i]));
  if (v2 && start + limit < all.size()) {
    auto k = key(*all[start + limit]);
    ctx.add_header("X-Next-Token", std::to_string(k.first) + "_" + k.second);
    ctx.add_header("Access-Control-Expose-Headers", "X-Next-Token");
  }
  co_await ctx.send_json(200, out);
}

awaitable<void> one_sandbox(HttpContext& ctx, Services& s, const std::string& id,
                            const std::string& action) {
  const auto method = ctx.method();
  if (action.empty()) {
    if (method == http::verb::get) {
      auto sbx = require(s, ctx, id);
      json d = listed_json(s, *sbx);
      d["envdAccessToken"] = e2b::sandbox_token(s.link_secret, e2b::TokenKind::kEnvd, id);
      d["domain"] = nullptr;
      const json policy = sbx->egress ? sbx->egress->policy.to_json() : json("none");
      d["allowInternetAccess"] = e2b::internet_open(policy);
      d["network"] = e2b::e2b_network(policy);
      d["lifecycle"] = {{"onTimeout", "kill"}, {"autoResume", false}};
      co_return co_await ctx.send_json(200, d);
    }
    if (method == http::verb::delete_) {
      require(s, ctx, id);
      co_await s.manager.destroy(id);
      s.e2b.remove(id);
      co_return co_await ctx.send_empty(204);
    }
    throw e2b_error(405, "method not allowed");
  }
  if (action == "network") {
    if (method != http::verb::put) throw e2b_error(405, "method not allowed");
    auto sbx = require(s, ctx, id);
    json body = body_object(ctx);
    refuse_unsupported_network(body);
    // E2B: the update replaces the rules, an omitted field is cleared.
    auto policy = policy_from(body, true);
    auto closed = s.manager.set_network(*sbx, policy ? std::move(*policy) : egress::Policy{});
    if (!closed) {
      ApiError e = api_error_from(closed.status());
      throw e2b_error(e.status, e.what());
    }
    co_return co_await ctx.send_empty(204);
  }
  if (method != http::verb::post && !(action == "metrics" || action == "logs"))
    throw e2b_error(405, "method not allowed");
  if (action == "timeout" || action == "refreshes") {
    auto sbx = require(s, ctx, id);
    json body = body_object(ctx);
    auto t = seconds(body, action == "timeout" ? "timeout" : "duration");
    if (!t) throw e2b_error(400, "'timeout' (seconds) is required");
    if (auto st = s.manager.set_timeout(*sbx, *t); !st) throw e2b_error(400, st.message());
    co_return co_await ctx.send_empty(204);
  }
  if (action == "connect" || action == "resume") {
    auto sbx = require(s, ctx, id);
    json body = body_object(ctx);
    // E2B's connect resumes a paused sandbox (in memory here: see pause).
    if (auto st = co_await s.manager.resume(sbx); !st) {
      ApiError e = api_error_from(st);
      throw e2b_error(e.status, e.what());
    }
    // Connecting never shortens a running sandbox's life.
    if (auto t = seconds(body, "timeout")) {
      if (sandbox::SystemClock::now() + std::chrono::seconds(*t) > sbx->expires_at) {
        if (auto st = s.manager.set_timeout(*sbx, *t); !st) throw e2b_error(400, st.message());
      }
    }
    if (!s.e2b.find(id)) remember(s, *sbx, "base");
    const json out = sandbox_json(s, *sbx);
    co_return co_await ctx.send_json(200, out);
  }
  auto sbx = require(s, ctx, id);
  if (action == "pause") {
    json body = body_object(ctx);
    // memory: false asks for a filesystem-only snapshot, which needs the
    // gVisor runtime's checkpoint; the default keeps memory, as here.
    if (auto mem = body.find("memory"); mem != body.end() && mem->is_boolean() && !mem->get<bool>())
      throw not_available("pause without memory (keepMemory: false)", kNeedsGvisor);
    // E2B answers 409 for a sandbox already paused (the SDK's pause()
    // returns false then).
    if (sbx->paused()) throw e2b_error(409, "sandbox \"" + id + "\" is already paused");
    if (auto st = co_await s.manager.pause(sbx); !st) {
      ApiError e = api_error_from(st);
      throw e2b_error(e.status, e.what());
    }
    co_return co_await ctx.send_empty(204);
  }
  if (action == "snapshots") throw not_available("snapshots", kNeedsGvisor);
  if (action == "fork") throw not_available("fork", kNeedsGvisor);
  if (action == "metrics") throw not_available("sandbox metrics", "they are not sampled yet");
  if (action == "logs") throw not_available("sandbox logs", "Kiln keeps no sandbox log stream");
  throw e2b_error(404, "no such route");
}

awaitable<void> templates(HttpContext& ctx, Services& s) {
  const auto& seg = ctx.segments();
  if (seg.size() == 3 && seg[1] == "aliases" && ctx.method() == http::verb::get) {
    if (!known_template(seg[2])) throw e2b_error(404, "template alias '" + seg[2] + "' not found");
    json out = {{"templateID", seg[2]}, {"public", true}};
    co_return co_await ctx.send_json(200, out);
  }
  if (seg.size() == 2 && ctx.method() == http::verb::delete_) {
    // Snapshots are deleted as templates; Kiln has none.
    throw e2b_error(404, "template or snapshot '" + seg[1] + "' not found");
  }
  throw not_available("template builds", "Kiln sandboxes all run its one image");
}

}  // namespace

awaitable<void> e2b_control(HttpContext& ctx, Services& s) {
  std::vector<std::string> seg = ctx.segments();
  bool v2 = false;
  if (seg[0] == "v2" || seg[0] == "v3") {
    v2 = seg[0] == "v2";
    seg.erase(seg.begin());
  }
  if (seg[0] == "templates") co_return co_await templates(ctx, s);
  if (seg[0] == "snapshots") throw not_available("snapshots", kNeedsGvisor);
  if (seg[0] != "sandboxes") throw e2b_error(404, "no such route");
  if (seg.size() == 1) {
    if (ctx.method() == http::verb::post) co_return co_await create(ctx, s, v2);
    if (ctx.method() == http::verb::get) co_return co_await list(ctx, s, v2);
    throw e2b_error(405, "method not allowed");
  }
  if (seg.size() == 2 && seg[1] == "metrics")
    throw not_available("sandbox metrics", "they are not sampled yet");
  if (seg.size() > 3) throw e2b_error(404, "no such route");
  const std::string id = seg[1], action = seg.size() == 3 ? seg[2] : "";
  co_return co_await one_sandbox(ctx, s, id, action);
}

}  // namespace kiln::api
