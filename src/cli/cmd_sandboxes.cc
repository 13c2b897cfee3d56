// kiln sandboxes ls|inspect|create|rm
#include <ctime>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/format.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string limits_text(const json& limits) {
  if (!limits.is_object()) return "";
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (limits.contains("memory_mb")) add(cell(limits, "memory_mb") + " MB memory");
  if (limits.contains("cpus")) add(cell(limits, "cpus") + " CPU");
  if (limits.contains("pids")) add(cell(limits, "pids") + " processes");
  if (limits.contains("disk_mb")) add(cell(limits, "disk_mb") + " MB disk");
  if (limits.contains("exec_timeout_s")) add(cell(limits, "exec_timeout_s") + " s per run");
  return out;
}

std::string metadata_text(const json& md) {
  if (!md.is_object() || md.empty()) return "-";
  std::string out;
  for (const auto& [k, v] : md.items())
    out += (out.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

int ls(Context& ctx) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->get("/v1/sandboxes");
  if (!res) return report(res.status());
  const json list = res->value("sandboxes", json::array());
  if (ctx.json) {
    print_json(list);
    return kExitOk;
  }
  if (list.empty()) {
    std::cout << "no sandboxes\n";
    return kExitOk;
  }
  Table t({"ID", "STATUS", "TEMPLATE", "SESSION", "CREATED", "EXPIRES"});
  const auto now = now_s();
  for (const auto& s : list) {
    std::string session = cell(s, "session");
    t.add({cell(s, "id"), cell(s, "status"), cell(s, "template"), session.empty() ? "-" : session,
           short_time(cell(s, "created_at")), relative_time(cell(s, "expires_at"), now)});
  }
  t.print(std::cout);
  return kExitOk;
}

int inspect(Context& ctx, const std::string& id) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->get("/v1/sandboxes/" + url_encode(id));
  if (!res) return report(res.status());
  const json& s = *res;
  if (ctx.json) {
    print_json(s);
    return kExitOk;
  }
  const auto now = now_s();
  std::string session = cell(s, "session");
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", cell(s, "id")},
      {"status", cell(s, "status")},
      {"template", cell(s, "template")},
      {"session", session.empty() ? "-" : session},
      {"created", short_time(cell(s, "created_at"))},
      {"expires",
       short_time(cell(s, "expires_at")) + " (" + relative_time(cell(s, "expires_at"), now) + ")"},
      {"limits", limits_text(s.value("limits", json()))},
      {"network", cell(s, "network")},
      {"metadata", metadata_text(s.value("metadata", json()))}};
  if (const json u = s.value("usage", json()); u.is_object()) {
    auto ms = [&u](const char* k) {
      return std::chrono::milliseconds(u.value(k, json(0)).is_number() ? u.value(k, 0LL) : 0LL);
    };
    fields.emplace_back("active", human_duration(ms("active_ms")));
    fields.emplace_back("cpu", human_duration(ms("cpu_ms")));
    fields.emplace_back("memory peak", human_bytes(u.value("memory_peak_bytes", json(0)).is_number()
                                                       ? u.value("memory_peak_bytes", 0ULL)
                                                       : 0ULL));
    fields.emplace_back("executions", cell(u, "executions"));
  }
  print_fields(std::cout, fields);
  return kExitOk;
}

struct CreateOptions {
  int timeout_s = 0;
  std::string session;
  std::vector<std::string> env;
};

int create(Context& ctx, const CreateOptions& o) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  json body = json::object();
  if (o.timeout_s > 0) body["timeout_s"] = o.timeout_s;
  if (!o.session.empty()) body["session"] = o.session;
  auto env = parse_env_pairs(o.env);
  if (!env) return report(env.status());
  if (!env->empty()) body["env"] = *env;
  auto res = (*api)->post("/v1/sandboxes", body);
  if (!res) return report(res.status());
  if (ctx.json)
    print_json(*res);
  else
    std::cout << cell(*res, "id") << '\n';
  return kExitOk;
}

int rm(Context& ctx, const std::vector<std::string>& ids) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  int status = kExitOk;
  json deleted = json::array();
  for (const auto& id : ids) {
    auto res = (*api)->del("/v1/sandboxes/" + url_encode(id));
    if (!res) {
      status = report(res.status());
      continue;
    }
    deleted.push_back(id);
    if (!ctx.json) std::cout << "deleted " << id << '\n';
  }
  if (ctx.json) print_json({{"deleted", deleted}});
  return status;
}

}  // namespace

void add_sandbox_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("sandboxes", "List, inspect, create and delete sandboxes");
  group->alias("sandbox");
  group->require_subcommand(1);

  auto* ls_cmd = group->add_subcommand("ls", "List the workspace's live sandboxes");
  ls_cmd->callback([&ctx] { ctx.action = [&ctx] { return ls(ctx); }; });

  auto id = std::make_shared<std::string>();
  auto* inspect_cmd =
      group->add_subcommand("inspect", "Show one sandbox: limits, expiry and usage so far");
  inspect_cmd->add_option("id", *id, "Sandbox id (sbx_...)")->required();
  inspect_cmd->callback([&ctx, id] { ctx.action = [&ctx, id] { return inspect(ctx, *id); }; });

  auto co = std::make_shared<CreateOptions>();
  auto* create_cmd = group->add_subcommand("create", "Create a sandbox and print its id");
  create_cmd->add_option("-t,--timeout", co->timeout_s, "Lifetime in seconds (default 300)")
      ->check(CLI::Range(1, 86400));
  create_cmd->add_option("--session", co->session,
                         "Session key: the live sandbox with this key is returned if there is one");
  create_cmd->add_option("-e,--env", co->env, "KEY=VALUE for every run in it (repeatable)");
  create_cmd->callback([&ctx, co] { ctx.action = [&ctx, co] { return create(ctx, *co); }; });

  auto ids = std::make_shared<std::vector<std::string>>();
  auto* rm_cmd = group->add_subcommand("rm", "Delete sandboxes (every process and file in them)");
  rm_cmd->add_option("ids", *ids, "Sandbox ids")->required();
  rm_cmd->callback([&ctx, ids] { ctx.action = [&ctx, ids] { return rm(ctx, *ids); }; });
}

}  // namespace kiln::cli
