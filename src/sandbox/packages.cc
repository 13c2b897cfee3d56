#include "sandbox/packages.h"

#include "sandbox/run.h"

namespace kiln::sandbox {

using nlohmann::json;

namespace {

bool spec_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("._~+=<>!,@/:[]-").find(static_cast<char>(c)) != std::string_view::npos;
}

Result<std::vector<std::string>> parse_specs(const json& list, const std::string& manager) {
  const std::string where = "packages." + manager;
  if (!list.is_array()) return Status::invalid("'" + where + "' must be an array of strings");
  if (list.size() > kMaxPackages) {
    return Status::invalid("'" + where + "' has more than " + std::to_string(kMaxPackages) +
                           " packages");
  }
  std::vector<std::string> out;
  for (const json& item : list) {
    if (!item.is_string()) return Status::invalid("'" + where + "' must be an array of strings");
    const std::string& spec = item.get_ref<const std::string&>();
    if (spec.empty() || spec.size() > kMaxPackageSpecBytes) {
      return Status::invalid("'" + where + "': a package spec must have 1 to " +
                             std::to_string(kMaxPackageSpecBytes) + " characters");
    }
    if (spec.front() == '-') {
      return Status::invalid("'" + where + "': \"" + spec + "\" looks like an option");
    }
    for (unsigned char c : spec) {
      if (!spec_char(c)) {
        return Status::invalid("'" + where + "': \"" + spec.substr(0, 64) +
                               "\" has a character a package spec cannot have");
      }
    }
    out.push_back(spec);
  }
  return out;
}

// The last `n` bytes of `text`, starting at a line if one starts near.
std::string tail(const std::string& text, std::size_t n) {
  if (text.size() <= n) return text;
  std::string t = text.substr(text.size() - n);
  if (auto nl = t.find('\n'); nl < 200) t.erase(0, nl + 1);  // npos is never < 200
  return "…" + t;
}

}  // namespace

Result<PackageList> parse_packages(const json& value) {
  if (!value.is_object()) {
    return Status::invalid("'packages' must be an object like {\"pip\": [...], \"npm\": [...]}");
  }
  PackageList out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.key() != "pip" && it.key() != "npm") {
      return Status::invalid("'packages': unknown package manager \"" + it.key().substr(0, 32) +
                             "\" (pip or npm)");
    }
    auto specs = parse_specs(it.value(), it.key());
    if (!specs) return specs.status();
    (it.key() == "pip" ? out.pip : out.npm) = std::move(*specs);
  }
  return out;
}

std::string install_command(const std::string& manager, const std::vector<std::string>& specs) {
  std::string cmd =
      manager == "pip" ? "python3 -m pip install --user --no-input --" : "npm install --";
  for (const std::string& s : specs) cmd += " '" + s + "'";
  return cmd;
}

boost::asio::awaitable<Status> install_packages(SandboxManager& m, std::shared_ptr<Sandbox> sbx,
                                                PackageList packages) {
  for (const auto* list : {&packages.pip, &packages.npm}) {
    if (list->empty()) continue;
    const std::string manager = list == &packages.pip ? "pip" : "npm";
    // Named, not temporaries, across the co_await (GCC 12, see sandbox/run.h).
    std::string cmd = install_command(manager, *list);
    std::string no_stdin, cwd = "/home/user";
    auto out = co_await run_command(m, sbx, std::move(cmd), std::move(no_stdin),
                                    kPackageInstallTimeoutMs, std::move(cwd));
    if (!out) co_return out.status().with_message(manager + " install: " + out.status().message());
    if (out->timed_out) {
      co_return Status::unprocessable(manager + " install did not finish within " +
                                      std::to_string(kPackageInstallTimeoutMs / 1000) + " s");
    }
    if (out->sandbox_ended) co_return Status::unavailable(manager + " install: the sandbox ended");
    if (out->exit_code.value_or(-1) != 0) {
      const std::string& err = out->stderr_text.empty() ? out->stdout_text : out->stderr_text;
      co_return Status::unprocessable(manager + " install failed (exit " +
                                      std::to_string(out->exit_code.value_or(-1)) +
                                      "): " + tail(err, 2000));
    }
  }
  co_return Status::ok();
}

}  // namespace kiln::sandbox
