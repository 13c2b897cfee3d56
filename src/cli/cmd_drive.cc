// kiln drive ls|get|put|rm: the workspace's persistent storage.
#include <ctime>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/transfer.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

struct DriveArgs {
  std::string first;   // ls: prefix; get/rm: drive path; put: local file
  std::string second;  // get: local; put: drive path
  std::string scope = "persistent";
  bool replace = false;
};

std::string absolute(const std::string& p) { return p.empty() || p[0] == '/' ? p : "/" + p; }

int ls(Context& ctx, const DriveArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  std::string target = "/v1/drive";
  if (!a.first.empty()) target += "?prefix=" + url_encode(absolute(a.first));
  auto res = (*api)->get(target);
  if (!res) return report(res.status());
  const json files = res->value("files", json::array());
  if (ctx.json) {
    print_json(files);
    return kExitOk;
  }
  if (files.empty()) {
    std::cout << "no files in Drive" << (a.first.empty() ? "" : " under " + absolute(a.first))
              << '\n';
    return kExitOk;
  }
  Table t({"PATH", "SIZE", "SCOPE", "CREATED", "EXPIRES", "SHA256"});
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& f : files) {
    const std::string expires = cell(f, "expires_at");
    t.add({cell(f, "path"),
           f.value("size", json()).is_number() ? human_bytes(f.value("size", 0ULL)) : "",
           cell(f, "scope"), short_time(cell(f, "created_at")),
           expires.empty() ? "never" : relative_time(expires, now),
           cell(f, "sha256").substr(0, 12)});
  }
  t.print(std::cout);
  return kExitOk;
}

int get(Context& ctx, const DriveArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  const std::string path = absolute(a.first);
  const std::string local = a.second.empty() ? base_name(path) : a.second;
  auto data = download(**api, "/v1/drive/content?path=" + url_encode(path), base_name(path));
  if (!data) return report(data.status());
  if (auto s = write_output(local, *data); !s) return report(s);
  if (local != "-") {
    if (ctx.json)
      print_json({{"path", local}, {"size", data->size()}});
    else
      std::cerr << "saved " << local << " (" << human_bytes(data->size()) << ")\n";
  }
  return kExitOk;
}

int put(Context& ctx, const DriveArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto data = read_input(a.first);
  if (!data) return report(data.status());
  std::string path = a.second;
  if (path.empty()) {
    if (a.first == "-") return report("give the Drive path when uploading stdin");
    path = "/" + base_name(a.first);
  } else if (path.back() == '/' && a.first != "-") {
    path += base_name(a.first);
  }
  path = absolute(path);
  std::string target = "/v1/drive/content?path=" + url_encode(path) +
                       "&scope=" + url_encode(a.scope) + (a.replace ? "&replace=true" : "");
  auto res = upload(**api, target, std::move(*data), base_name(a.first));
  if (!res) return report(res.status());
  if (ctx.json) {
    print_json(*res);
  } else {
    std::cout << "uploaded " << a.first << " -> drive:" << cell(*res, "path") << " ("
              << (res->value("size", json()).is_number() ? human_bytes(res->value("size", 0ULL))
                                                         : "?")
              << ", " << cell(*res, "scope") << ")\n";
  }
  return kExitOk;
}

int rm(Context& ctx, const std::vector<std::string>& paths) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  int status = kExitOk;
  json deleted = json::array();
  for (const auto& p : paths) {
    auto res = (*api)->del("/v1/drive?path=" + url_encode(absolute(p)));
    if (!res) {
      status = report(res.status());
      continue;
    }
    deleted.push_back(absolute(p));
    if (!ctx.json) std::cout << "deleted drive:" << absolute(p) << '\n';
  }
  if (ctx.json) print_json({{"deleted", deleted}});
  return status;
}

}  // namespace

void add_drive_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand(
      "drive", "The workspace's Drive: files kept across sandboxes (paths start at /)");
  group->require_subcommand(1);

  auto la = std::make_shared<DriveArgs>();
  auto* ls_cmd = group->add_subcommand("ls", "List Drive files");
  ls_cmd->add_option("prefix", la->first, "Only paths under this prefix, e.g. /data");
  ls_cmd->callback([&ctx, la] { ctx.action = [&ctx, la] { return ls(ctx, *la); }; });

  auto ga = std::make_shared<DriveArgs>();
  auto* get_cmd = group->add_subcommand("get", "Download a Drive file");
  get_cmd->add_option("path", ga->first, "Drive path, e.g. /reports/q4.png")->required();
  get_cmd->add_option("dest", ga->second, "Local file, or - for stdout (default: its name)");
  get_cmd->callback([&ctx, ga] { ctx.action = [&ctx, ga] { return get(ctx, *ga); }; });

  auto pa = std::make_shared<DriveArgs>();
  auto* put_cmd = group->add_subcommand("put", "Upload a file into Drive");
  put_cmd->add_option("file", pa->first, "Local file, or - for stdin")->required();
  put_cmd->add_option("dest", pa->second,
                      "Drive path (default: /<file name>; a trailing / means that folder)");
  put_cmd->add_option("--scope", pa->scope, "temporary (10 min), session (24 h) or persistent")
      ->check(CLI::IsMember({"temporary", "session", "persistent"}));
  put_cmd->add_flag("--replace", pa->replace, "Overwrite an existing file");
  put_cmd->footer(
      "Drive takes data and documents; executables, scripts (.sh, .bat, ...), archives and "
      "system files are refused (415).");
  put_cmd->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return put(ctx, *pa); }; });

  auto paths = std::make_shared<std::vector<std::string>>();
  auto* rm_cmd = group->add_subcommand("rm", "Delete Drive files");
  rm_cmd->add_option("paths", *paths, "Drive paths")->required();
  rm_cmd->callback([&ctx, paths] { ctx.action = [&ctx, paths] { return rm(ctx, *paths); }; });
}

}  // namespace kiln::cli
