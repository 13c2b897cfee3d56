#include "storage/ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

namespace kiln::storage {
namespace {

Result<std::int64_t> workspace_active_ms(Database& db, std::string_view workspace) {
  auto st =
      db.prepare("SELECT coalesce(sum(active_ms), 0) FROM usage_sandboxes WHERE workspace = ?1");
  if (!st) return st.status();
  if (Status s = st->bind_text(1, workspace); !s) return s;
  auto step = st->step();
  if (!step) return step.status();
  return st->column_int64(0);
}

Status unknown_sandbox(std::string_view id) {
  return Status::not_found("sandbox " + std::string(id) + " has no usage row");
}

}  // namespace

Ledger::Ledger(Database& db, Clock clock) : db_(db), clock_(std::move(clock)) {}

Status Ledger::open_sandbox(std::string_view sandbox_id, std::string_view workspace,
                            TimePoint created_at) {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "INSERT INTO usage_sandboxes (sandbox_id, workspace, created_at_ms, last_seen_at_ms) "
      "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (sandbox_id) DO NOTHING");
  if (!st) return st.status();
  Status s = st->bind_text(1, sandbox_id);
  if (s) s = st->bind_text(2, workspace);
  if (s) s = st->bind_int64(3, to_unix_ms(created_at));
  if (s) s = st->run();
  return s;
}

Status Ledger::update(std::string_view sandbox_id, const UsageTotals& totals, TimePoint now) {
  auto lock = db_.lock();
  // max() per field: totals are monotonic, so an older snapshot applied
  // after a newer one must not move anything backwards.
  auto st = db_.prepare(
      "UPDATE usage_sandboxes SET active_ms = max(active_ms, ?2), cpu_ms = max(cpu_ms, ?3), "
      "executions = max(executions, ?4), memory_peak_bytes = max(memory_peak_bytes, ?5), "
      "last_seen_at_ms = max(last_seen_at_ms, ?6) WHERE sandbox_id = ?1");
  if (!st) return st.status();
  Status s = st->bind_text(1, sandbox_id);
  if (s) s = st->bind_int64(2, totals.active_ms);
  if (s) s = st->bind_int64(3, totals.cpu_ms);
  if (s) s = st->bind_int64(4, totals.executions);
  if (s) s = st->bind_int64(5, totals.memory_peak_bytes);
  if (s) s = st->bind_int64(6, to_unix_ms(now));
  if (s) s = st->run();
  if (!s) return s;
  if (db_.changes() == 0) return unknown_sandbox(sandbox_id);
  return Status::ok();
}

Status Ledger::close_sandbox(std::string_view sandbox_id, TimePoint ended_at) {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "UPDATE usage_sandboxes SET ended_at_ms = coalesce(ended_at_ms, ?2), "
      "last_seen_at_ms = max(last_seen_at_ms, ?2) WHERE sandbox_id = ?1");
  if (!st) return st.status();
  Status s = st->bind_text(1, sandbox_id);
  if (s) s = st->bind_int64(2, to_unix_ms(ended_at));
  if (s) s = st->run();
  if (!s) return s;
  if (db_.changes() == 0) return unknown_sandbox(sandbox_id);
  return Status::ok();
}

Result<int> Ledger::close_dangling() {
  auto lock = db_.lock();
  // last_seen_at, not "now": the time the daemon was down is nobody's
  // session, and billing it would charge for an outage.
  auto st = db_.prepare(
      "UPDATE usage_sandboxes SET ended_at_ms = last_seen_at_ms WHERE ended_at_ms IS NULL "
      "RETURNING sandbox_id, workspace, last_seen_at_ms");
  if (!st) return st.status();
  int closed = 0;
  while (true) {
    auto step = st->step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) break;
    spdlog::info("event=usage_closed_dangling sandbox={} workspace={} ended_at_ms={}",
                 st->column_text(0), st->column_text(1), st->column_int64(2));
    ++closed;
  }
  return closed;
}

Result<UsageSummary> Ledger::summary(std::string_view workspace, TimePoint from, TimePoint to) {
  const std::int64_t now_ms = to_unix_ms(clock_());
  auto lock = db_.lock();
  auto st = db_.prepare(
      "SELECT date(created_at_ms / 1000, 'unixepoch') AS day, count(*), "
      "sum(max(coalesce(ended_at_ms, ?4) - created_at_ms, 0)), sum(active_ms), sum(cpu_ms), "
      "sum(executions) FROM usage_sandboxes "
      "WHERE workspace = ?1 AND created_at_ms >= ?2 AND created_at_ms < ?3 "
      "GROUP BY day ORDER BY day");
  if (!st) return st.status();
  Status s = st->bind_text(1, workspace);
  if (s) s = st->bind_int64(2, to_unix_ms(from));
  if (s) s = st->bind_int64(3, to_unix_ms(to));
  if (s) s = st->bind_int64(4, now_ms);
  if (!s) return s;
  UsageSummary out;
  while (true) {
    auto step = st->step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) break;
    DailyUsage d;
    d.date = st->column_text(0);
    d.sandboxes = st->column_int64(1);
    d.session_seconds = static_cast<double>(st->column_int64(2)) / 1000.0;
    d.active_seconds = static_cast<double>(st->column_int64(3)) / 1000.0;
    d.cpu_seconds = static_cast<double>(st->column_int64(4)) / 1000.0;
    d.executions = st->column_int64(5);
    out.sandboxes += d.sandboxes;
    out.session_seconds += d.session_seconds;
    out.active_seconds += d.active_seconds;
    out.cpu_seconds += d.cpu_seconds;
    out.executions += d.executions;
    out.by_day.push_back(std::move(d));
  }
  return out;
}

Status Ledger::set_credits(std::string_view workspace, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return Status::invalid("credits must be a non-negative number of seconds");
  }
  auto lock = db_.lock();
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.status();
  auto used = workspace_active_ms(db_, workspace);
  if (!used) return used.status();
  auto st = db_.prepare(
      "INSERT INTO workspace_credits (workspace, balance_seconds, set_at_ms, active_ms_at_set) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (workspace) DO UPDATE SET "
      "balance_seconds = excluded.balance_seconds, set_at_ms = excluded.set_at_ms, "
      "active_ms_at_set = excluded.active_ms_at_set");
  if (!st) return st.status();
  Status s = st->bind_text(1, workspace);
  if (s) s = st->bind_double(2, seconds);
  if (s) s = st->bind_int64(3, to_unix_ms(clock_()));
  if (s) s = st->bind_int64(4, *used);
  if (s) s = st->run();
  if (s) s = tx->commit();
  return s;
}

Result<std::optional<double>> Ledger::credits(std::string_view workspace) {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "SELECT balance_seconds, active_ms_at_set FROM workspace_credits WHERE workspace = ?1");
  if (!st) return st.status();
  if (Status s = st->bind_text(1, workspace); !s) return s;
  auto step = st->step();
  if (!step) return step.status();
  if (*step == Statement::Step::kDone) return std::optional<double>();
  const double balance = st->column_double(0);
  const std::int64_t baseline = st->column_int64(1);
  auto used = workspace_active_ms(db_, workspace);
  if (!used) return used.status();
  const double spent = static_cast<double>(std::max<std::int64_t>(*used - baseline, 0)) / 1000.0;
  return std::optional<double>(std::max(balance - spent, 0.0));
}

Result<bool> Ledger::quota_exhausted(std::string_view workspace) {
  auto remaining = credits(workspace);
  if (!remaining) return remaining.status();
  return remaining->has_value() && **remaining <= 0.0;
}

}  // namespace kiln::storage
