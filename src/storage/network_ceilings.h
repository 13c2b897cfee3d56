// NetworkCeilings: the widest egress policy an operator allows each
// workspace (`kilnd network-ceiling set`). A sandbox's own policy may
// narrow its workspace's ceiling, never widen it (egress::within_ceiling).
//
// Stored as the policy's JSON text: this layer keeps what the operator
// set and knows nothing of policy rules; the sandbox manager parses it.
//
// Concurrency: every method takes the Database lock for its duration; the
// store may be shared between threads. A running kilnd reads the ceiling
// on each create and network change, so a change made by the admin
// command (another process, same database) applies from the next one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/clock.h"
#include "storage/database.h"

namespace kiln::storage {

struct NetworkCeiling {
  std::string workspace;
  std::string policy_json;
};

class NetworkCeilings {
 public:
  explicit NetworkCeilings(Database& db, Clock clock = system_clock());

  // Sets (replaces) the workspace's ceiling.
  [[nodiscard]] Status set(std::string_view workspace, std::string_view policy_json);
  // NotFound when the workspace had no ceiling.
  [[nodiscard]] Status clear(std::string_view workspace);
  // The ceiling's JSON, or nullopt when none is set.
  [[nodiscard]] Result<std::optional<std::string>> get(std::string_view workspace);
  [[nodiscard]] Result<std::vector<NetworkCeiling>> list();

 private:
  Database& db_;
  Clock clock_;
};

}  // namespace kiln::storage
