// Ledger: usage metering per sandbox and per workspace, and credit balances.
//
// Each sandbox has one row holding ABSOLUTE totals (active ms, CPU ms,
// executions, peak memory). The sandbox manager writes its current totals
// whenever they change; writing the same totals again changes nothing, so a
// retried or replayed update never double-counts. Totals only grow: an
// update carrying smaller figures (an older snapshot arriving late) is
// ignored field by field.
//
// Session time runs from creation to end; for a live sandbox, to "now"
// (the injected clock). After a daemon crash, close_dangling() ends each
// row at the last moment it was seen alive, so a restart neither loses the
// usage written so far nor bills the downtime.
//
// Credits: an optional balance in active seconds per workspace. Remaining =
// balance - active seconds used since the balance was set; the workspace's
// total active time at that moment is stored as the baseline.
//
// Concurrency: every method takes the Database lock for its duration; a
// Ledger may be shared between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/clock.h"
#include "storage/database.h"

namespace kiln::storage {

struct UsageTotals {
  std::int64_t active_ms = 0;
  std::int64_t cpu_ms = 0;
  std::int64_t executions = 0;
  std::int64_t memory_peak_bytes = 0;
};

struct DailyUsage {
  std::string date;  // "YYYY-MM-DD", UTC, the day the sandboxes were created
  std::int64_t sandboxes = 0;
  double session_seconds = 0;
  double active_seconds = 0;
  double cpu_seconds = 0;
  std::int64_t executions = 0;
};

struct UsageSummary {
  std::int64_t sandboxes = 0;
  double session_seconds = 0;
  double active_seconds = 0;
  double cpu_seconds = 0;
  std::int64_t executions = 0;
  std::vector<DailyUsage> by_day;  // oldest first; only days with sandboxes
};

class Ledger {
 public:
  explicit Ledger(Database& db, Clock clock = system_clock());

  // Idempotent: opening an existing id again changes nothing.
  Status open_sandbox(std::string_view sandbox_id, std::string_view workspace,
                      TimePoint created_at);
  // ENOENT for an unknown id.
  Status update(std::string_view sandbox_id, const UsageTotals& totals, TimePoint now);
  // Sets ended_at (first close wins); ENOENT for an unknown id.
  Status close_sandbox(std::string_view sandbox_id, TimePoint ended_at);
  // At start-up: ends every row still open at its last_seen_at. Returns how
  // many rows were closed.
  Result<int> close_dangling();

  // Sandboxes created in [from, to).
  Result<UsageSummary> summary(std::string_view workspace, TimePoint from, TimePoint to);

  // Sets (replaces) the balance, in active seconds, from now on.
  Status set_credits(std::string_view workspace, double seconds);
  // Remaining active seconds (never below 0), or nullopt when no balance
  // was ever set (unmetered).
  Result<std::optional<double>> credits(std::string_view workspace);
  // True when a balance is set and nothing remains: execute answers 402.
  Result<bool> quota_exhausted(std::string_view workspace);

 private:
  Database& db_;
  Clock clock_;
};

}  // namespace kiln::storage
