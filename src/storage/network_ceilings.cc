#include "storage/network_ceilings.h"

namespace kiln::storage {

NetworkCeilings::NetworkCeilings(Database& db, Clock clock) : db_(db), clock_(std::move(clock)) {}

Status NetworkCeilings::set(std::string_view workspace, std::string_view policy_json) {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "INSERT INTO workspace_network_ceilings (workspace, policy_json, set_at_ms) "
      "VALUES (?1, ?2, ?3) ON CONFLICT (workspace) DO UPDATE SET "
      "policy_json = excluded.policy_json, set_at_ms = excluded.set_at_ms");
  if (!st) return st.status();
  Status s = st->bind_text(1, workspace);
  if (s) s = st->bind_text(2, policy_json);
  if (s) s = st->bind_int64(3, to_unix_ms(clock_()));
  if (s) s = st->run();
  return s;
}

Status NetworkCeilings::clear(std::string_view workspace) {
  auto lock = db_.lock();
  auto st = db_.prepare("DELETE FROM workspace_network_ceilings WHERE workspace = ?1");
  if (!st) return st.status();
  KILN_RETURN_IF_ERROR(st->bind_text(1, workspace));
  KILN_RETURN_IF_ERROR(st->run());
  if (db_.changes() == 0) {
    return Status::not_found("workspace " + std::string(workspace) + " has no network ceiling");
  }
  return Status::ok();
}

Result<std::optional<std::string>> NetworkCeilings::get(std::string_view workspace) {
  auto lock = db_.lock();
  auto st = db_.prepare("SELECT policy_json FROM workspace_network_ceilings WHERE workspace = ?1");
  if (!st) return st.status();
  KILN_RETURN_IF_ERROR(st->bind_text(1, workspace));
  auto step = st->step();
  if (!step) return step.status();
  if (*step == Statement::Step::kDone) return std::optional<std::string>();
  return std::optional<std::string>(st->column_text(0));
}

Result<std::vector<NetworkCeiling>> NetworkCeilings::list() {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "SELECT workspace, policy_json FROM workspace_network_ceilings ORDER BY workspace");
  if (!st) return st.status();
  std::vector<NetworkCeiling> out;
  for (;;) {
    auto step = st->step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) break;
    out.push_back({st->column_text(0), st->column_text(1)});
  }
  return out;
}

}  // namespace kiln::storage
