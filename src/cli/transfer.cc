#include "cli/transfer.h"

#include "cli/progress.h"

namespace kiln::cli {

Result<std::string> download(const ApiClient& api, const std::string& target,
                             const std::string& label) {
  Progress progress("downloading " + label, stderr_is_terminal());
  HttpHooks hooks;
  hooks.on_tick = [&progress] { progress.tick(); };
  hooks.on_received = [&progress](std::uint64_t done, std::optional<std::uint64_t> total) {
    progress.set_bytes(done, total);
  };
  return api.get_bytes(target, hooks);
}

Result<nlohmann::json> upload(const ApiClient& api, const std::string& target, std::string data,
                              const std::string& label) {
  Progress progress("uploading " + label, stderr_is_terminal());
  HttpHooks hooks;
  hooks.on_tick = [&progress] { progress.tick(); };
  hooks.on_sent = [&progress](std::uint64_t done, std::uint64_t total) {
    progress.set_bytes(done, total);
  };
  return api.put_bytes(target, std::move(data), hooks);
}

}  // namespace kiln::cli
