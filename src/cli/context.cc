#include "cli/context.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace kiln::cli {
using nlohmann::json;

Result<ApiClient*> Context::api() {
  if (api_) return &*api_;
  auto s = resolve_settings(flags, process_env());
  if (!s) return s.status();
  auto ep = parse_endpoint(s->url);
  if (!ep) {
    return Status::internal(ep.status().message() +
                            (s->url_from == "default" ? "" : " (from " + s->url_from + ")"));
  }
  settings_ = *s;
  api_.emplace(HttpClient(*ep, s->api_key));
  return &*api_;
}

int report(const Status& s) { return report(s.message()); }

int report(const std::string& message) {
  std::fflush(stdout);
  std::string line = "kiln: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  return kExitError;
}

void print_json(const json& value) {
  std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

Result<std::string> read_input(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::from_errno("cannot read " + path);
  ss << in.rdbuf();
  if (in.bad()) return Status::from_errno("cannot read " + path);
  return ss.str();
}

Status write_output(const std::string& path, const std::string& data) {
  if (path == "-") {
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return std::cout ? Status::ok() : Status::internal("cannot write to stdout");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::from_errno("cannot write " + path);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return Status::from_errno("cannot write " + path);
  return Status::ok();
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string cell(const json& obj, const std::string& key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace kiln::cli
