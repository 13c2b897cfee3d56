// kiln skills ls|show, kiln usage, kiln validate.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/language.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

std::string seconds_text(const json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", it->get<double>());
  return buf;
}

int skills_ls(Context& ctx) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->get("/v1/skills");
  if (!res) return report(res.status());
  const json skills = res->value("skills", json::array());
  if (ctx.json) {
    print_json(skills);
    return kExitOk;
  }
  Table t({"NAME", "DESCRIPTION"});
  for (const auto& s : skills) t.add({cell(s, "name"), cell(s, "description")});
  t.print(std::cout);
  return kExitOk;
}

int skills_show(Context& ctx, const std::string& name) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->get("/v1/skills/" + url_encode(name));
  if (!res) return report(res.status());
  if (ctx.json) {
    print_json(*res);
    return kExitOk;
  }
  std::string files;
  for (const auto& f : res->value("files", json::array()))
    files += (files.empty() ? "" : ", ") + (f.is_string() ? f.get<std::string>() : cell(f, "path"));
  print_fields(std::cout, {{"name", cell(*res, "name")},
                           {"description", cell(*res, "description")},
                           {"files", files.empty() ? "-" : files},
                           {"in a sandbox", "/skills/" + cell(*res, "name") + "/"}});
  std::string body = cell(*res, "body");
  if (!body.empty()) {
    std::cout << '\n' << body;
    if (body.back() != '\n') std::cout << '\n';
  }
  return kExitOk;
}

struct UsageArgs {
  std::string from;
  std::string to;
  bool by_day = false;
};

int usage(Context& ctx, const UsageArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  std::string target = "/v1/usage";
  std::string sep = "?";
  if (!a.from.empty()) {
    target += sep + "from=" + url_encode(a.from);
    sep = "&";
  }
  if (!a.to.empty()) target += sep + "to=" + url_encode(a.to);
  auto res = (*api)->get(target);
  if (!res) return report(res.status());
  const json& u = *res;
  if (ctx.json) {
    print_json(a.by_day ? u : [&u] {
      json j = u;
      j.erase("by_day");
      return j;
    }());
    return kExitOk;
  }
  if (a.by_day) {
    Table t({"DATE", "SANDBOXES", "SESSION", "ACTIVE", "CPU", "EXECUTIONS"});
    for (const auto& d : u.value("by_day", json::array())) {
      t.add({cell(d, "date"), cell(d, "sandboxes"), seconds_text(d, "session_seconds"),
             seconds_text(d, "active_seconds"), seconds_text(d, "cpu_seconds"),
             cell(d, "executions")});
    }
    if (t.empty())
      std::cout << "no usage in this period\n";
    else
      t.print(std::cout);
    return kExitOk;
  }
  std::string credits = u.contains("credits") && u["credits"].is_number()
                            ? seconds_text(u, "credits") + " left"
                            : "no limit set";
  print_fields(std::cout, {{"workspace", cell(u, "workspace")},
                           {"sandboxes", cell(u, "sandboxes")},
                           {"session time", seconds_text(u, "session_seconds")},
                           {"active time", seconds_text(u, "active_seconds") + " (billed)"},
                           {"cpu time", seconds_text(u, "cpu_seconds")},
                           {"executions", cell(u, "executions")},
                           {"credits", credits}});
  return kExitOk;
}

struct ValidateArgs {
  std::string file;
  std::string lang;
};

int validate(Context& ctx, const ValidateArgs& a) {
  auto code = read_input(a.file);
  if (!code) return report(code.status());
  auto lang = a.lang.empty() ? (a.file == "-" ? Result<std::string>(std::string("python"))
                                              : detect_language(a.file, *code))
                             : normalize_language(a.lang);
  if (!lang) return report(lang.status());
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->post("/v1/validate", {{"code", *code}, {"language", *lang}});
  if (!res) return report(res.status());
  const bool valid = res->value("valid", false);
  if (ctx.json) {
    print_json(*res);
    return valid ? kExitOk : kExitCodeFailed;
  }
  const std::string name = a.file == "-" ? "<stdin>" : a.file;
  for (const auto& e : res->value("errors", json::array())) {
    std::string where =
        name + ":" + (e.contains("line") && !e["line"].is_null() ? cell(e, "line") : "?");
    if (e.contains("column") && !e["column"].is_null()) where += ":" + cell(e, "column");
    std::cout << where << ": error: " << cell(e, "message") << '\n';
  }
  for (const auto& w : res->value("warnings", json::array())) {
    std::cout << name << ":" << (w.contains("line") && !w["line"].is_null() ? cell(w, "line") : "?")
              << ": warning [" << cell(w, "rule") << "]: " << cell(w, "message") << '\n';
  }
  if (valid) std::cout << name << ": valid " << *lang << '\n';
  return valid ? kExitOk : kExitCodeFailed;
}

}  // namespace

void add_info_commands(CLI::App& app, Context& ctx) {
  auto* skills = app.add_subcommand("skills", "The skills every sandbox sees under /skills");
  skills->require_subcommand(1);
  auto* skills_ls_cmd = skills->add_subcommand("ls", "List the skills");
  skills_ls_cmd->callback([&ctx] { ctx.action = [&ctx] { return skills_ls(ctx); }; });
  auto name = std::make_shared<std::string>();
  auto* show = skills->add_subcommand("show", "Show a skill: description, files, instructions");
  show->add_option("name", *name, "Skill name, e.g. data-analysis")->required();
  show->callback([&ctx, name] { ctx.action = [&ctx, name] { return skills_show(ctx, *name); }; });

  auto ua = std::make_shared<UsageArgs>();
  auto* usage_cmd = app.add_subcommand("usage", "The workspace's metered usage");
  usage_cmd->add_option("--from", ua->from, "Start: a date (2026-11-01) or RFC 3339 time");
  usage_cmd->add_option("--to", ua->to, "End: a date or RFC 3339 time");
  usage_cmd->add_flag("--by-day", ua->by_day, "One row per day");
  usage_cmd->footer("Active time (running code or commands) is the billed figure.");
  usage_cmd->callback([&ctx, ua] { ctx.action = [&ctx, ua] { return usage(ctx, *ua); }; });

  auto va = std::make_shared<ValidateArgs>();
  auto* validate_cmd = app.add_subcommand(
      "validate", "Check code with its language's parser (and advisory rules) without running it");
  validate_cmd->add_option("file", va->file, "The code file, or - for stdin")->required();
  validate_cmd->add_option("-l,--lang", va->lang, "Language (default: from the extension)");
  validate_cmd->footer("Exit status: 0 valid (warnings allowed), 2 syntax errors, 1 API error.");
  validate_cmd->callback([&ctx, va] { ctx.action = [&ctx, va] { return validate(ctx, *va); }; });
}

}  // namespace kiln::cli
