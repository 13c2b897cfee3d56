// SandboxManager: lifecycle of every sandbox — create (from the warm pool or
// cold), find, list, extend, destroy, TTL expiry, contexts, and start-up
// cleanup of what a crashed daemon left.
//
// Thread-safety: single-threaded; every method runs on the daemon's one
// io_context thread. Awaitable methods may interleave with other requests at
// their co_await points, so they re-check a sandbox's state after resuming.
// What blocks — a cgroup teardown's waits, ledger commits — runs on the
// BlockingPool, owning what it touches (a sandbox's Cgroup is handed over
// whole); nothing on the I/O thread sleeps or fsyncs.
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

#include "common/blocking_pool.h"
#include "daemon/config.h"
#include "egress/policy.h"
#include "egress/resolver.h"
#include "jail/cgroup.h"
#include "jail/spawner.h"
#include "sandbox/sandbox.h"
#include "storage/ledger.h"
#include "storage/network_ceilings.h"

namespace kiln::sandbox {

struct CreateRequest {
  std::string workspace = "default";
  std::string template_name = "default";
  std::optional<std::uint64_t> timeout_s;
  std::string session;
  protocol::StringMap env;
  nlohmann::json metadata = nlohmann::json::object();
  Limits limits;
  egress::Policy network;  // "none" unless asked
  bool auto_resume = false;
};

struct ManagerStats {
  std::uint64_t created = 0, destroyed = 0, expired = 0, pool_hits = 0, executions = 0;
};

class SandboxManager {
 public:
  // Sandboxes are cloned by `spawner` (a single-threaded process kilnd
  // forked at start-up; see jail/spawner.h).
  SandboxManager(boost::asio::io_context& io, const Config& config, jail::CgroupLayout layout,
                 jail::Spawner& spawner, BlockingPool& pool);

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

  // Pause in memory (cgroup freezer): every process stops, memory stays,
  // the TTL clock stops, the slot stays taken. Idempotent: pausing a paused
  // sandbox (or resuming a running one) succeeds and changes nothing.
  // Unavailable (503) where the host has no freezer.
  boost::asio::awaitable<Status> pause(std::shared_ptr<Sandbox> sbx);
  boost::asio::awaitable<Status> resume(std::shared_ptr<Sandbox> sbx);
  // Before anything that needs the sandbox's processes: ok when running;
  // a paused one is resumed if it was created with auto_resume, else
  // kPaused (409 sandbox_paused).
  boost::asio::awaitable<Status> ensure_running(std::shared_ptr<Sandbox> sbx);

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
  // absolute totals after each run and closed when it ends. The writes go to
  // `writer` in order on the blocking pool (a run never waits for a
  // commit); `reader` (its own SQLite connection) answers quota checks on
  // the I/O thread without waiting for a writer.
  void set_ledger(storage::Ledger* writer, storage::Ledger* reader) {
    ledger_ = writer;
    ledger_reader_ = reader;
  }
  // Operator-set network ceilings per workspace (`reader`: its own SQLite
  // connection, read on the I/O thread). Null: no ceilings.
  void set_network_ceilings(storage::NetworkCeilings* reader) { ceilings_ = reader; }
  void record_usage(Sandbox& sbx);
  // Completes once every usage write queued before it has landed.
  boost::asio::awaitable<void> usage_written() { return blocking_.barrier(); }
  // The one metering rule: a run (execution or command) of `duration_ms`
  // counts as active time and as one execution, and is on disk when this
  // completes: a run is answered only once its usage is durable (a kill -9
  // right after the answer loses nothing).
  // `paused_during_ms`: time the sandbox spent paused during the run, which
  // is not active time.
  boost::asio::awaitable<void> meter_run(Sandbox& sbx, std::uint64_t duration_ms,
                                         std::uint64_t paused_during_ms = 0);
  // EDQUOT when the workspace's credits are spent (402 quota_exceeded).
  Status check_quota(const std::string& workspace);

  const Config& config() const { return config_; }
  const jail::CgroupLayout& cgroups() const { return layout_; }
  ManagerStats& stats() { return stats_; }
  std::size_t live() const { return sandboxes_.size(); }
  std::size_t pool_ready() const { return pool_.size(); }
  Status validate_limits(const Limits& l) const;

  // Egress (issue 13): a new policy for a live sandbox, at once for new
  // connections; open ones it refuses are closed (their count returned).
  Result<std::size_t> set_network(Sandbox& sbx, egress::Policy policy);
  // EINVAL for a malformed --egress-allow-cidr.
  Status configure_egress();

 private:
  boost::asio::awaitable<Result<std::shared_ptr<Sandbox>>> spawn(const Limits& limits,
                                                                 const protocol::StringMap& env,
                                                                 bool prestart_python);
  boost::asio::awaitable<void> fill_pool();
  boost::asio::awaitable<void> sweep_loop();
  boost::asio::awaitable<void> teardown(std::shared_ptr<Sandbox> sbx);
  std::optional<int> take_slot();
  void ledger_open(const Sandbox& sbx);
  void ledger_close(const Sandbox& sbx);
  std::string new_id(const char* prefix);

  boost::asio::io_context& io_;
  jail::Spawner& spawner_;
  BlockingPool& blocking_;  // cgroup teardown and ledger writes
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
  storage::Ledger* ledger_reader_ = nullptr;
  storage::NetworkCeilings* ceilings_ = nullptr;
  std::vector<egress::Rule> mirrors_;  // --pip-index-url, --npm-registry
  // pip/npm settings every sandbox gets (configure_egress; the user's own
  // env wins).
  protocol::StringMap package_env_;
  // The two halves of create_context: record the context (synchronous, so
  // a request that follows finds it), then ask kiln-init to start it (on
  // failure the record is removed again).
  Result<ContextInfo> register_context(Sandbox& sbx, const std::string& language,
                                       const std::string& cwd, bool is_default);
  // `preload`: Python modules the runner imports before it is ready.
  boost::asio::awaitable<Result<ContextInfo>> start_context(std::shared_ptr<Sandbox> sbx,
                                                            ContextInfo info,
                                                            std::vector<std::string> preload = {});
  // Invalid (400) when `policy` is wider than `workspace`'s ceiling.
  Status check_network_ceiling(const std::string& workspace, const egress::Policy& policy);
  net::AddressPolicy egress_cidrs_;  // public only, plus --egress-allow-cidr
  egress::Resolver resolver_;
  void start_egress(Sandbox& sbx);
};

}  // namespace kiln::sandbox
