// Services: everything a route handler may use, wired once by kilnd's main.
//
// Thread-safety: single-threaded, on the daemon's io_context; what handlers
// hand to `pool` must be thread-safe (Drive is). Pointers may be null in
// tests that only exercise sandbox routes.
#pragma once

#include <string>
#include <vector>

#include "common/blocking_pool.h"
#include "e2b/registry.h"
#include "net/address_policy.h"
#include "sandbox/manager.h"
#include "skills/registry.h"
#include "storage/drive.h"
#include "storage/keys.h"
#include "storage/ledger.h"

namespace kiln::mcp {
class SessionStore;
}  // namespace kiln::mcp

namespace kiln::api {

struct Services {
  sandbox::SandboxManager& manager;
  // Drive's file and SQLite work runs here, never on the I/O thread.
  BlockingPool& pool;
  storage::KeyStore* keys = nullptr;
  storage::Drive* drive = nullptr;
  storage::Ledger* ledger = nullptr;
  skills::SkillRegistry* skills = nullptr;
  net::AddressPolicy fetch_policy;
  // Secret for signing download links (32 random bytes, kept in the data dir
  // so links survive a restart).
  std::string link_secret;
  // Set once any API key exists; from then on every request needs one.
  bool auth_on = false;
  // MCP sessions of /mcp (null: /mcp answers 503), and the host names its
  // DNS-rebinding check accepts besides the loopback names.
  mcp::SessionStore* mcp_sessions = nullptr;
  std::vector<std::string> mcp_hosts{};
  // The E2B-compatible API's per-sandbox records (api/e2b_*.cc).
  e2b::Registry e2b{};
};

}  // namespace kiln::api
