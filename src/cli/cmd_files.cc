// kiln files ls|get|put|rm: files inside a sandbox.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/transfer.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

struct FileArgs {
  std::string sandbox;
  std::string first;   // ls: folder; get: remote; put: local; rm: remote
  std::string second;  // get: local; put: remote
};

std::string files_target(const std::string& sandbox, const std::string& suffix,
                         const std::string& path) {
  return "/v1/sandboxes/" + url_encode(sandbox) + suffix + "?path=" + url_encode(path);
}

int ls(Context& ctx, const FileArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  const std::string path = a.first.empty() ? "/home/user" : a.first;
  auto res = (*api)->get(files_target(a.sandbox, "/files", path));
  if (!res) return report(res.status());
  const json entries = res->value("entries", json::array());
  if (ctx.json) {
    print_json(entries);
    return kExitOk;
  }
  if (entries.empty()) {
    std::cout << path << " is empty\n";
    return kExitOk;
  }
  Table t({"NAME", "TYPE", "SIZE", "MODIFIED"});
  for (const auto& e : entries) {
    std::string name = cell(e, "name");
    const std::string type = cell(e, "type");
    if (type == "dir") name += "/";
    std::string size = type == "dir" ? "-"
                       : e.value("size", json()).is_number_unsigned()
                           ? human_bytes(e.value("size", 0ULL))
                           : cell(e, "size");
    t.add({name, type, size, short_time(cell(e, "mtime"))});
  }
  t.print(std::cout);
  return kExitOk;
}

int get(Context& ctx, const FileArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  const std::string local = a.second.empty() ? base_name(a.first) : a.second;
  auto data =
      download(**api, files_target(a.sandbox, "/files/content", a.first), base_name(a.first));
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

int put(Context& ctx, const FileArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto data = read_input(a.first);
  if (!data) return report(data.status());
  std::string remote = a.second;
  if (remote.empty()) {
    if (a.first == "-") return report("give the sandbox path when uploading stdin");
    remote = base_name(a.first);
  } else if (remote.back() == '/' && a.first != "-") {
    remote += base_name(a.first);
  }
  const std::uint64_t size = data->size();
  auto res = upload(**api, files_target(a.sandbox, "/files/content", remote), std::move(*data),
                    base_name(a.first));
  if (!res) return report(res.status());
  if (ctx.json)
    print_json(*res);
  else
    std::cout << "uploaded " << a.first << " -> " << a.sandbox << ":" << cell(*res, "path") << " ("
              << human_bytes(size) << ")\n";
  return kExitOk;
}

int rm(Context& ctx, const FileArgs& a) {
  auto api = ctx.api();
  if (!api) return report(api.status());
  auto res = (*api)->del(files_target(a.sandbox, "/files", a.first));
  if (!res) return report(res.status());
  if (ctx.json)
    print_json({{"deleted", a.first}});
  else
    std::cout << "deleted " << a.sandbox << ":" << a.first << '\n';
  return kExitOk;
}

}  // namespace

void add_file_commands(CLI::App& app, Context& ctx) {
  auto* group =
      app.add_subcommand("files", "Files inside a sandbox (paths relative to /home/user)");
  group->require_subcommand(1);

  auto la = std::make_shared<FileArgs>();
  auto* ls_cmd = group->add_subcommand("ls", "List a folder in a sandbox");
  ls_cmd->add_option("sandbox", la->sandbox, "Sandbox id")->required();
  ls_cmd->add_option("path", la->first, "Folder (default /home/user)");
  ls_cmd->callback([&ctx, la] { ctx.action = [&ctx, la] { return ls(ctx, *la); }; });

  auto ga = std::make_shared<FileArgs>();
  auto* get_cmd = group->add_subcommand("get", "Download a file from a sandbox");
  get_cmd->add_option("sandbox", ga->sandbox, "Sandbox id")->required();
  get_cmd->add_option("path", ga->first, "File in the sandbox")->required();
  get_cmd->add_option("dest", ga->second, "Local file, or - for stdout (default: its name)");
  get_cmd->callback([&ctx, ga] { ctx.action = [&ctx, ga] { return get(ctx, *ga); }; });

  auto pa = std::make_shared<FileArgs>();
  auto* put_cmd = group->add_subcommand("put", "Upload a file into a sandbox (folders are made)");
  put_cmd->add_option("sandbox", pa->sandbox, "Sandbox id")->required();
  put_cmd->add_option("file", pa->first, "Local file, or - for stdin")->required();
  put_cmd->add_option("dest", pa->second,
                      "Path in the sandbox (default: the file's name in /home/user; "
                      "a trailing / means that folder)");
  put_cmd->callback([&ctx, pa] { ctx.action = [&ctx, pa] { return put(ctx, *pa); }; });

  auto ra = std::make_shared<FileArgs>();
  auto* rm_cmd = group->add_subcommand("rm", "Delete a file or folder (recursively) in a sandbox");
  rm_cmd->add_option("sandbox", ra->sandbox, "Sandbox id")->required();
  rm_cmd->add_option("path", ra->first, "Path in the sandbox")->required();
  rm_cmd->callback([&ctx, ra] { ctx.action = [&ctx, ra] { return rm(ctx, *ra); }; });
}

}  // namespace kiln::cli
