// kilnd's management subcommands (keys, credits, network ceilings) and the
// daemon's secret.
//
// Thread-safety: run before the daemon starts, single-threaded.
#pragma once

#include <string>

#include "common/status.h"
#include "daemon/config.h"
#include "storage/keys.h"
#include "storage/ledger.h"
#include "storage/network_ceilings.h"

namespace kiln {

// Runs config.command; returns the process exit code.
int run_admin_command(const Config& config, storage::KeyStore& keys, storage::Ledger& ledger,
                      storage::NetworkCeilings& ceilings);

// 32 random bytes kept in `path` (mode 0600), created on first use.
Result<std::string> load_or_create_secret(const std::string& path);

}  // namespace kiln
