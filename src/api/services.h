// Services: everything a route handler may use, wired once by kilnd's main.
//
// Thread-safety: single-threaded, on the daemon's io_context. Pointers may be
// null in tests that only exercise sandbox routes.
#pragma once

#include <string>

#include "net/address_policy.h"
#include "sandbox/manager.h"
#include "skills/registry.h"
#include "storage/drive.h"
#include "storage/keys.h"
#include "storage/ledger.h"

namespace kiln::api {

struct Services {
  sandbox::SandboxManager& manager;
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
};

}  // namespace kiln::api
