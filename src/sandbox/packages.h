// Packages a sandbox installs before its first execution:
// POST /v1/sandboxes {"packages": {"pip": ["textblob"], "npm": ["lodash"]}}.
//
// pip installs for the sandbox user (~/.local) and npm into /home/user,
// from the operator's mirrors when set (--pip-index-url, --npm-registry)
// or from wherever the sandbox's network policy reaches. Both are lost
// with the sandbox.
//
// Thread-safety: install() runs on the daemon's io_context, like any run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln::sandbox {

class SandboxManager;
struct Sandbox;

struct PackageList {
  std::vector<std::string> pip, npm;
  bool empty() const { return pip.empty() && npm.empty(); }
};

inline constexpr std::size_t kMaxPackages = 64;           // per manager
inline constexpr std::size_t kMaxPackageSpecBytes = 200;  // "pandas>=2.1,<3", "@scope/x@1"
inline constexpr std::uint64_t kPackageInstallTimeoutMs = 300'000;

// The API's "packages" object. Invalid (400) for anything else: unknown
// managers, non-string or empty specs, a spec starting with '-' (an
// option), characters outside [A-Za-z0-9._~+=<>!,@/:[]-], more than
// kMaxPackages per manager.
Result<PackageList> parse_packages(const nlohmann::json& value);

// The shell command that installs `specs` with `manager` ("pip", "npm").
// Specs are single-quoted; parse_packages already refused quotes.
std::string install_command(const std::string& manager, const std::vector<std::string>& specs);

// Installs pip's list, then npm's. Unprocessable (422) naming the manager,
// its exit status and the end of its error output when one fails.
boost::asio::awaitable<Status> install_packages(SandboxManager& m, std::shared_ptr<Sandbox> sbx,
                                                PackageList packages);

}  // namespace kiln::sandbox
