// SandboxManager: lifecycle of every sandbox — create (from the warm pool or
// cold), find, list, extend, destroy, TTL expiry, contexts, and start-up
// cleanup of what a crashed daemon left.
//
// Thread-safety: single-threaded; every method runs on the daemon's one
// io_context thread. Awaitable methods may interleave with other requests at
// their co_await points, so they re-check a sandbox's state after resuming.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "jail/cgroup.h"
#include "sandbox/sandbox.h"
#include "storage/ledger.h"

namespace kiln::sandbox {

struct CreateRequest {
  std::string workspace = "default";
  std::string template_name = "default";
  std::optional<std::uint64_t> timeout_s;
  std::string session;
  nlohmann::json env = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  Limits limits;
};

struct ManagerStats {
  std::uint64_t created = 0, destroyed = 0, expired = 0, pool_hits = 0, executions = 0;
};

class SandboxManager {
 public:
  SandboxManager(boost::asio::io_context& io, const Config& config, jail::CgroupLayout layout);

  // Kills what a previous run left: processes running as a slot uid,
  // stale cgroups, the staging mount point's leftovers.
  void cleanup_previous_run();
  // Starts the pool filler and the TTL sweeper.
  void start();
  boost::asio::awaitable<void> shutdown();

  // Returns {sandbox, created}; created=false when a live session matched.
  boost::asio::awaitable<Result<std::pair<std::shared_ptr<Sandbox>, bool>>> create(
      CreateRequest req);
  // A live sandbox of `workspace`, or null (also for another workspace's).
  std::shared_ptr<Sandbox> find(const std::string& id, const std::string& workspace);
  std::vector<std::shared_ptr<Sandbox>> list(const std::string& workspace);
  boost::asio::awaitable<void> destroy(std::string id);
  Status set_timeout(Sandbox& sbx, std::uint64_t timeout_s);

  boost::asio::awaitable<Result<ContextInfo>> create_context(std::shared_ptr<Sandbox> sbx,
                                                             std::string language, std::string cwd,
                                                             bool is_default = false);
  boost::asio::awaitable<Status> delete_context(std::shared_ptr<Sandbox> sbx, std::string ctx,
                                                bool restart);
  // The context an execute call uses: by id, by language default, or the
  // default Python context (created on first use).
  boost::asio::awaitable<Result<ContextInfo>> resolve_context(std::shared_ptr<Sandbox> sbx,
                                                              const std::string& context_id,
                                                              const std::string& language);

  // A sandbox owned by the daemon itself (workspace "_kiln", which no API
  // key can name), where /v1/validate runs the language parsers: parsing
  // untrusted code is jailed like running it.
  boost::asio::awaitable<Result<std::shared_ptr<Sandbox>>> system_sandbox();

  // Usage metering: every handed-out sandbox gets a ledger row, updated with
  // absolute totals after each run and closed when it ends.
  void set_ledger(storage::Ledger* ledger) { ledger_ = ledger; }
  void record_usage(Sandbox& sbx);
  // EDQUOT when the workspace's credits are spent (402 quota_exceeded).
  Status check_quota(const std::string& workspace);

  const Config& config() const { return config_; }
  const jail::CgroupLayout& cgroups() const { return layout_; }
  ManagerStats& stats() { return stats_; }
  std::size_t live() const { return sandboxes_.size(); }
  std::size_t pool_ready() const { return pool_.size(); }
  Status validate_limits(const Limits& l) const;

 private:
  boost::asio::awaitable<Result<std::shared_ptr<Sandbox>>> spawn(const Limits& limits,
                                                                 const nlohmann::json& env,
                                                                 bool prestart_python);
  boost::asio::awaitable<void> fill_pool();
  boost::asio::awaitable<void> sweep_loop();
  boost::asio::awaitable<void> teardown(std::shared_ptr<Sandbox> sbx);
  std::optional<int> take_slot();
  std::string new_id(const char* prefix);

  boost::asio::io_context& io_;
  Config config_;
  jail::CgroupLayout layout_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;
  std::map<std::string, std::string> sessions_;  // workspace + '\n' + session -> sandbox id
  std::deque<std::shared_ptr<Sandbox>> pool_;
  std::set<int> free_slots_;
  int spawning_ = 0;
  bool filling_ = false;
  bool stopping_ = false;
  ManagerStats stats_;
  std::string staging_dir_;
  std::string system_sandbox_id_;
  storage::Ledger* ledger_ = nullptr;
};

}  // namespace kiln::sandbox
