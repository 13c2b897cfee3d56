// Authentication: the request's API key names its workspace.
#include "api/auth.h"

namespace kiln::api {

void authenticate(HttpContext& ctx, Services& s) {
  if (s.keys == nullptr) return;  // no key store: single "default" workspace
  if (!s.auth_on) {
    // Auth is off only while no key was ever created. Revoking the last key
    // must not open the door again, so once on it stays on.
    auto all = s.keys->list();
    if (!all) throw ApiError(500, "internal", "key store: " + all.status().message());
    if (all->empty()) return;  // loopback only, logged at start
    s.auth_on = true;
  }
  std::string key;
  const auto& req = ctx.request();
  std::string authz(req[http::field::authorization]);
  if (authz.rfind("Bearer ", 0) == 0) key = authz.substr(7);
  if (key.empty()) key = std::string(req["X-API-Key"]);
  if (key.empty()) {
    throw ApiError(401, "unauthorized",
                   "an API key is required: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
  }
  auto found = s.keys->authenticate(key);
  if (!found) throw ApiError(500, "internal", "key store: " + found.status().message());
  if (!found->has_value()) throw ApiError(401, "unauthorized", "unknown or revoked API key");
  ctx.set_workspace((*found)->workspace);
}

}  // namespace kiln::api
