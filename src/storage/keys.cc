#include "storage/keys.h"

#include <cerrno>

#include "storage/crypto.h"

namespace kiln::storage {
namespace {

constexpr std::string_view kKeyPrefix = "kiln_";
constexpr std::string_view kE2bKeyPrefix = "e2b_";
constexpr std::size_t kKeyRandomBytes = 20;  // 40 hex characters
constexpr std::size_t kKeyLength = kKeyPrefix.size() + 2 * kKeyRandomBytes;
constexpr std::size_t kE2bKeyLength = kE2bKeyPrefix.size() + 2 * kKeyRandomBytes;
constexpr std::size_t kShownPrefix = 9;
constexpr int kIdAttempts = 5;

bool is_key_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

Status validate_workspace_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::invalid("workspace name must be 1 to 64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return Status::invalid("workspace name may contain only letters, digits, '_' and '-'");
    }
  }
  return Status::ok();
}

KeyStore::KeyStore(Database& db, Clock clock) : db_(db), clock_(std::move(clock)) {}

Result<NewKey> KeyStore::create(std::string_view workspace, Flavor flavor) {
  if (Status s = validate_workspace_name(workspace); !s) return s;
  auto secret = random_hex(kKeyRandomBytes);
  if (!secret) return secret.status();
  NewKey out;
  out.workspace = std::string(workspace);
  out.key = std::string(flavor == Flavor::kE2b ? kE2bKeyPrefix : kKeyPrefix) + *secret;
  out.created_at = clock_();
  const std::int64_t now_ms = to_unix_ms(out.created_at);

  auto lock = db_.lock();
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.status();
  auto ws = db_.prepare(
      "INSERT INTO workspaces (name, created_at_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!ws) return ws.status();
  if (Status s = ws->bind_text(1, workspace); !s) return s;
  if (Status s = ws->bind_int64(2, now_ms); !s) return s;
  if (Status s = ws->run(); !s) return s;

  auto ins = db_.prepare(
      "INSERT INTO api_keys (id, workspace, key_sha256, key_prefix, created_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!ins) return ins.status();
  if (Status s = ins->bind_text(2, workspace); !s) return s;
  if (Status s = ins->bind_text(3, sha256_hex(out.key)); !s) return s;
  if (Status s = ins->bind_text(4, out.key.substr(0, kShownPrefix)); !s) return s;
  if (Status s = ins->bind_int64(5, now_ms); !s) return s;
  // 32-bit ids are short enough to type; retry the rare collision rather
  // than make them longer.
  Status last;
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    auto id = random_hex(4);
    if (!id) return id.status();
    out.id = "key_" + *id;
    if (Status s = ins->bind_text(1, out.id); !s) return s;
    last = ins->run();
    if (last) break;
    if (last.kind() != ErrorKind::kConflict) return last;  // else: that id was taken
    if (Status s = ins->reset(); !s) return s;
  }
  if (!last) return last;
  if (Status s = tx->commit(); !s) return s;
  return out;
}

Result<std::vector<KeyInfo>> KeyStore::list() {
  auto lock = db_.lock();
  auto st = db_.prepare(
      "SELECT id, workspace, created_at_ms, revoked_at_ms IS NOT NULL, key_prefix "
      "FROM api_keys ORDER BY created_at_ms, id");
  if (!st) return st.status();
  std::vector<KeyInfo> out;
  while (true) {
    auto step = st->step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) break;
    out.push_back(KeyInfo{st->column_text(0), st->column_text(1), from_unix_ms(st->column_int64(2)),
                          st->column_int64(3) != 0, st->column_text(4)});
  }
  return out;
}

Status KeyStore::revoke(std::string_view id) {
  auto lock = db_.lock();
  auto st =
      db_.prepare("UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?2) WHERE id = ?1");
  if (!st) return st.status();
  if (Status s = st->bind_text(1, id); !s) return s;
  if (Status s = st->bind_int64(2, to_unix_ms(clock_())); !s) return s;
  if (Status s = st->run(); !s) return s;
  if (db_.changes() == 0) return Status::not_found("key " + std::string(id) + " not found");
  return Status::ok();
}

Result<std::optional<AuthenticatedKey>> KeyStore::authenticate(std::string_view plaintext) {
  // Reject malformed input before hashing or touching the database.
  std::size_t prefix = 0;
  if (plaintext.size() == kKeyLength && plaintext.substr(0, kKeyPrefix.size()) == kKeyPrefix) {
    prefix = kKeyPrefix.size();
  } else if (plaintext.size() == kE2bKeyLength &&
             plaintext.substr(0, kE2bKeyPrefix.size()) == kE2bKeyPrefix) {
    prefix = kE2bKeyPrefix.size();
  } else {
    return std::optional<AuthenticatedKey>();
  }
  for (char c : plaintext.substr(prefix)) {
    if (!is_key_char(c)) return std::optional<AuthenticatedKey>();
  }
  auto lock = db_.lock();
  auto st = db_.prepare(
      "SELECT id, workspace FROM api_keys WHERE key_sha256 = ?1 AND revoked_at_ms IS NULL");
  if (!st) return st.status();
  if (Status s = st->bind_text(1, sha256_hex(plaintext)); !s) return s;
  auto step = st->step();
  if (!step) return step.status();
  if (*step == Statement::Step::kDone) return std::optional<AuthenticatedKey>();
  return std::optional<AuthenticatedKey>(AuthenticatedKey{st->column_text(0), st->column_text(1)});
}

Result<bool> KeyStore::any_keys() {
  auto lock = db_.lock();
  auto st = db_.prepare("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at_ms IS NULL)");
  if (!st) return st.status();
  auto step = st->step();
  if (!step) return step.status();
  return st->column_int64(0) != 0;
}

}  // namespace kiln::storage
