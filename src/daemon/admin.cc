#include "daemon/admin.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"
#include "egress/policy.h"

namespace kiln {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "kilnd: %s\n", s.message().c_str());
  return 1;
}

// network-ceiling set|clear|list. The policy is parsed here, with the
// rules a sandbox's own policy gets, so only a valid ceiling is stored.
int run_ceiling_command(const Config& config, storage::NetworkCeilings& ceilings) {
  const std::string& verb = config.command[1];
  if (verb == "list") {
    auto all = ceilings.list();
    if (!all) return fail(all.status());
    std::printf("%-20s %s\n", "WORKSPACE", "CEILING");
    for (const auto& c : *all)
      std::printf("%-20s %s\n", c.workspace.c_str(), c.policy_json.c_str());
    return 0;
  }
  if (auto s = storage::validate_workspace_name(config.workspace); !s) return fail(s);
  if (verb == "clear") {
    if (auto s = ceilings.clear(config.workspace); !s) return fail(s);
    std::printf("workspace %s: no network ceiling\n", config.workspace.c_str());
    return 0;
  }
  auto text = nlohmann::json::parse(config.network_policy, nullptr, /*allow_exceptions=*/false);
  if (text.is_discarded()) {
    return fail(Status::invalid("--policy is not JSON (quote a string: '\"internet\"')"));
  }
  auto policy = egress::parse_policy(text);
  if (!policy) return fail(policy.status());
  const std::string stored = policy->to_json().dump();
  if (auto s = ceilings.set(config.workspace, stored); !s) return fail(s);
  std::printf("workspace %s: network ceiling %s\n", config.workspace.c_str(), stored.c_str());
  return 0;
}

}  // namespace

int run_admin_command(const Config& config, storage::KeyStore& keys, storage::Ledger& ledger,
                      storage::NetworkCeilings& ceilings) {
  const auto& cmd = config.command;
  if (cmd.size() == 2 && cmd[0] == "network-ceiling") return run_ceiling_command(config, ceilings);
  if (cmd == std::vector<std::string>{"keys", "create"}) {
    auto made = keys.create(config.workspace, config.e2b_key ? storage::KeyStore::Flavor::kE2b
                                                             : storage::KeyStore::Flavor::kKiln);
    if (!made) {
      std::fprintf(stderr, "kilnd: %s\n", made.status().message().c_str());
      return 1;
    }
    // The key is shown once; only its hash is stored.
    std::printf("%s\n", made->key.c_str());
    std::fprintf(stderr, "created %s for workspace %s (store the key now: it is not shown again)\n",
                 made->id.c_str(), made->workspace.c_str());
    return 0;
  }
  if (cmd == std::vector<std::string>{"keys", "list"}) {
    auto list = keys.list();
    if (!list) {
      std::fprintf(stderr, "kilnd: %s\n", list.status().message().c_str());
      return 1;
    }
    std::printf("%-14s %-20s %-12s %s\n", "ID", "WORKSPACE", "PREFIX", "STATE");
    for (const auto& k : *list) {
      std::printf("%-14s %-20s %-12s %s\n", k.id.c_str(), k.workspace.c_str(), k.key_prefix.c_str(),
                  k.revoked ? "revoked" : "live");
    }
    return 0;
  }
  if (cmd == std::vector<std::string>{"keys", "revoke"}) {
    if (auto s = keys.revoke(config.key_id); !s) {
      std::fprintf(stderr, "kilnd: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("revoked %s\n", config.key_id.c_str());
    return 0;
  }
  if (cmd == std::vector<std::string>{"credits", "set"}) {
    if (auto s = storage::validate_workspace_name(config.workspace); !s) {
      std::fprintf(stderr, "kilnd: %s\n", s.message().c_str());
      return 1;
    }
    if (auto s = ledger.set_credits(config.workspace, config.credit_seconds); !s) {
      std::fprintf(stderr, "kilnd: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("workspace %s: %.0f active seconds of credit\n", config.workspace.c_str(),
                config.credit_seconds);
    return 0;
  }
  std::fprintf(stderr, "kilnd: unknown command\n");
  return 2;
}

Result<std::string> load_or_create_secret(const std::string& path) {
  std::string secret(32, '\0');
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.valid()) {
    ssize_t n = ::read(fd.get(), secret.data(), secret.size());
    if (n == static_cast<ssize_t>(secret.size())) return secret;
    return Status::internal("secret file " + path + " is damaged; delete it to make a new one");
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    return Status::internal("RAND_bytes failed");
  }
  const std::string tmp = path + ".tmp";
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::from_errno("open(" + tmp + ")");
  if (::write(out.get(), secret.data(), secret.size()) != static_cast<ssize_t>(secret.size()) ||
      ::fsync(out.get()) != 0) {
    return Status::from_errno("write(" + tmp + ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::from_errno("rename(" + path + ")");
  return secret;
}

}  // namespace kiln
