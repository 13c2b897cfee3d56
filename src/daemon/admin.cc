#include "daemon/admin.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"

namespace kiln {

int run_admin_command(const Config& config, storage::KeyStore& keys, storage::Ledger& ledger) {
  const auto& cmd = config.command;
  if (cmd == std::vector<std::string>{"keys", "create"}) {
    auto made = keys.create(config.workspace);
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
    return Status::error("secret file " + path + " is damaged; delete it to make a new one");
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    return Status::error("RAND_bytes failed");
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
