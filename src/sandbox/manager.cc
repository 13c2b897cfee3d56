#include "sandbox/manager.h"

#include <dirent.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <random>

#include "common/languages.h"
#include "common/sandbox_path.h"
#include "egress/proxy.h"
#include "egress/target.h"
#include "jail/netns_listener.h"
#include "jail/spawn.h"
#include "sandbox/run.h"

namespace kiln::sandbox {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

bool supported_language(const std::string& l) { return find_language(l) != nullptr; }

// How long pause waits for the kernel to freeze every task, and the
// longest step between looks (it starts at 200 µs: a pause is meant to take
// a few milliseconds).
constexpr std::chrono::milliseconds kFreezeTimeout(2000);
constexpr std::chrono::microseconds kMaxFreezePoll(20000);

template <class Duration>
awaitable<void> sleep_for(Duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace

SandboxManager::SandboxManager(asio::io_context& io, const Config& config,
                               jail::CgroupLayout layout, jail::Spawner& spawner,
                               BlockingPool& pool)
    : io_(io),
      spawner_(spawner),
      blocking_(pool),
      config_(config),
      layout_(std::move(layout)),
      resolver_(config.egress_hosts_file) {
  for (int i = 1; i <= config_.max_sandboxes + config_.pool_size; ++i) free_slots_.insert(i);
  staging_dir_ = jail::kStagingDir;
}

std::string SandboxManager::new_id(const char* prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

std::optional<int> SandboxManager::take_slot() {
  if (free_slots_.empty()) return std::nullopt;
  int s = *free_slots_.begin();
  free_slots_.erase(free_slots_.begin());
  return s;
}

void SandboxManager::cleanup_previous_run() {
  // 1. Processes still running as a slot uid (a crash between clone and
  //    PDEATHSIG taking effect, or a daemon killed with -9).
  const uid_t lo = config_.uid_base;
  const uid_t hi = slot_ids_end(config_.uid_base, config_.max_sandboxes + config_.pool_size);
  int killed = 0;
  if (DIR* d = ::opendir("/proc")) {
    while (auto* de = ::readdir(d)) {
      struct stat st {};
      std::string p = std::string("/proc/") + de->d_name;
      if (de->d_name[0] < '1' || de->d_name[0] > '9' || ::stat(p.c_str(), &st) != 0) continue;
      if (st.st_uid >= lo && st.st_uid < hi) {
        ::kill(std::atoi(de->d_name), SIGKILL);
        ++killed;
      }
    }
    ::closedir(d);
  }
  // 2. Cgroups left by the previous run.
  auto removed = jail::remove_stale_cgroups(layout_);
  if (!removed) spdlog::warn("event=cleanup what=cgroups error=\"{}\"", removed.status().message());
  // 3. The staging mount point (only ever mounted inside sandboxes' own
  //    mount namespaces, so nothing to unmount on the host).
  ::mkdir(config_.data_dir.c_str(), 0755);
  if (auto s = jail::make_staging_dir(); !s)
    spdlog::error("event=cleanup what=staging_dir error=\"{}\"", s.message());
  spdlog::info("event=cleanup processes_killed={} cgroups_removed={}", killed,
               removed ? *removed : 0);
}

void SandboxManager::start() {
  asio::co_spawn(io_, fill_pool(), asio::detached);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
}

awaitable<void> SandboxManager::shutdown() {
  stopping_ = true;
  // A sandbox being made right now is in no list yet: wait for it (the
  // pool filler and create() tear theirs down once they see stopping_).
  for (int i = 0; i < 500 && (filling_ || spawning_ > 0); ++i) {
    co_await sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::shared_ptr<Sandbox>> all;
  for (auto& [id, s] : sandboxes_) all.push_back(s);
  for (auto& s : pool_) all.push_back(s);
  sandboxes_.clear();
  sessions_.clear();
  pool_.clear();
  for (auto& s : all) co_await teardown(s);
  spdlog::info("event=shutdown sandboxes_ended={}", all.size());
}

Status SandboxManager::configure_egress() {
  for (const std::string& c : config_.egress_allow_cidrs) {
    if (auto parsed = net::Cidr::parse(c); !parsed) {
      return Status::invalid("--egress-allow-cidr: " + parsed.status().message());
    }
    if (auto s = egress_cidrs_.allow(c); !s) return s;
  }
  for (const auto& [flag, url] : {std::pair{"--pip-index-url", &config_.pip_index_url},
                                  std::pair{"--npm-registry", &config_.npm_registry}}) {
    if (url->empty()) continue;
    auto rule = egress::mirror_rule(*url);
    if (!rule) return Status::invalid(std::string(flag) + ": " + rule.status().message());
    mirrors_.push_back(std::move(*rule));
  }
  // pip installs for the sandbox user (~/.local; /usr is read-only anyway):
  // Debian's EXTERNALLY-MANAGED marker would refuse even that, and pip
  // falls back to --user by itself when site-packages is not writable.
  // Installs are lost with the sandbox, so no cache and no version check.
  package_env_ = {{"PIP_BREAK_SYSTEM_PACKAGES", "1"},
                  {"PIP_DISABLE_PIP_VERSION_CHECK", "1"},
                  {"PIP_NO_CACHE_DIR", "1"},
                  {"PIP_NO_INPUT", "1"},
                  {"npm_config_update_notifier", "false"},
                  {"npm_config_fund", "false"},
                  {"npm_config_audit", "false"}};
  if (!config_.pip_index_url.empty()) {
    package_env_["PIP_INDEX_URL"] = config_.pip_index_url;
    // A plain-http mirror is the operator's choice; pip wants it named.
    if (config_.pip_index_url.rfind("http://", 0) == 0)
      package_env_["PIP_TRUSTED_HOST"] = egress::parse_mirror_url(config_.pip_index_url)->host;
  }
  if (!config_.npm_registry.empty()) package_env_["npm_config_registry"] = config_.npm_registry;
  return Status::ok();
}

Status SandboxManager::check_network_ceiling(const std::string& workspace,
                                             const egress::Policy& policy) {
  if (!ceilings_) return Status::ok();
  auto stored = ceilings_->get(workspace);
  if (!stored) return stored.status();
  if (!stored->has_value()) return Status::ok();
  // The admin command stored it only after parsing it; a row that no longer
  // parses is damage, and then nothing wider than "none" is allowed.
  auto text = nlohmann::json::parse(**stored, nullptr, /*allow_exceptions=*/false);
  auto ceiling = egress::parse_policy(text);
  if (!ceiling) {
    return Status::internal("workspace " + workspace +
                            "'s network ceiling is unreadable: " + ceiling.status().message());
  }
  return egress::within_ceiling(policy, *ceiling);
}

Result<std::size_t> SandboxManager::set_network(Sandbox& sbx, egress::Policy policy) {
  if (!sbx.egress) return Status::unavailable("sandbox " + sbx.id + " has no egress proxy");
  KILN_RETURN_IF_ERROR(check_network_ceiling(sbx.workspace, policy));
  const std::size_t closed = sbx.egress->set_policy(std::move(policy), egress_cidrs_);
  spdlog::info("event=network_changed id={} policy={} tunnels_closed={}", sbx.id,
               sbx.egress->policy.to_json().dump(), closed);
  return closed;
}

Status SandboxManager::validate_limits(const Limits& l) const {
  const Limits& m = config_.max_limits;
  if (l.memory_mb < 32 || l.memory_mb > m.memory_mb)
    return Status::invalid("limits.memory_mb must be between 32 and " +
                           std::to_string(m.memory_mb));
  if (l.cpus <= 0 || l.cpus > m.cpus)
    return Status::invalid("limits.cpus must be > 0 and at most " + std::to_string(m.cpus));
  if (l.pids < 8 || l.pids > m.pids)
    return Status::invalid("limits.pids must be between 8 and " + std::to_string(m.pids));
  if (l.disk_mb < 1 || l.disk_mb > m.disk_mb)
    return Status::invalid("limits.disk_mb must be between 1 and " + std::to_string(m.disk_mb));
  if (l.exec_timeout_s < 1 || l.exec_timeout_s > m.exec_timeout_s)
    return Status::invalid("limits.exec_timeout_s must be between 1 and " +
                           std::to_string(m.exec_timeout_s));
  return Status::ok();
}

awaitable<Result<std::shared_ptr<Sandbox>>> SandboxManager::spawn(const Limits& limits,
                                                                  const protocol::StringMap& env,
                                                                  bool prestart_python) {
  auto slot = take_slot();
  if (!slot) co_return Status::rate_limited("no free sandbox slot");
  auto sbx = std::make_shared<Sandbox>();
  sbx->id = new_id("sbx_");
  sbx->slot = *slot;
  sbx->limits = limits;
  sbx->env = env;
  // Every client the sandbox runs finds its proxy here (the user's own env
  // wins); the policy behind it says what, if anything, is reachable.
  const std::string proxy = "http://127.0.0.1:" + std::to_string(egress::kProxyPort);
  for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                        "npm_config_proxy", "npm_config_https_proxy"}) {
    sbx->env.emplace(k, proxy);
  }
  for (const char* k : {"NO_PROXY", "no_proxy"}) sbx->env.emplace(k, "localhost,127.0.0.1,::1");
  for (const auto& [k, v] : package_env_) sbx->env.emplace(k, v);  // the user's own env wins
  auto release = [&](Status s) -> Result<std::shared_ptr<Sandbox>> {
    free_slots_.insert(sbx->slot);
    return s;
  };
  jail::CgroupLimits cl;
  cl.memory_bytes = limits.memory_mb << 20;
  cl.cpus = limits.cpus;
  cl.pids = limits.pids;
  // mkdir and limit writes in every hierarchy, then the clone: both block
  // for a while on a loaded host, so neither runs on the I/O thread.
  // A pool sandbox warms up (kiln-init, the preloading Python context) as
  // idle-priority work: on a busy host the refill, which starts the moment
  // a pool sandbox is handed out, must not slow that sandbox's first cells.
  auto cg = co_await blocking_.run([&]() -> Result<std::unique_ptr<jail::Cgroup>> {
    auto made = jail::Cgroup::create(layout_, sbx->id, cl);
    if (made && prestart_python) {
      Status s = (*made)->set_cpu_priority(jail::CpuPriority::kBackground);
      if (!s) return s;  // ~Cgroup removes it
    }
    return made;
  });
  if (!cg) co_return release(cg.status());
  sbx->cgroup = std::move(*cg);

  jail::JailSpec spec;
  spec.ids = slot_ids(config_.uid_base, sbx->slot);
  spec.staging_dir = staging_dir_;
  spec.init_binary = config_.init_path;
  spec.runtimes_dir = config_.runtimes_dir;
  spec.skills_dir = config_.skills_dir;
  spec.rootfs.etc_files = jail::default_etc_files("sandbox");
  spec.rootfs.etc_binds = jail::default_etc_binds();
  spec.rootfs.tmp_bytes = config_.tmp_mb << 20;
  spec.rootfs.home_bytes = limits.disk_mb << 20;
  spec.rlimits.fsize_bytes = std::max(limits.disk_mb, config_.tmp_mb) << 20;
  spec.seccomp = config_.seccomp;
  spec.cgroup_procs = sbx->cgroup->procs_files();
  auto proc = co_await blocking_.run([&] { return spawner_.spawn(spec); });
  if (!proc) {
    std::unique_ptr<jail::Cgroup> cg = std::move(sbx->cgroup);
    co_await blocking_.run([&cg] {
      (void)cg->kill_all_and_remove();
      cg.reset();
    });
    co_return release(proc.status());
  }
  sbx->init_pid = proc->pid;
  sbx->pidfd = std::move(proc->pidfd);
  {
    // The child builds its root now; other requests run meanwhile.
    asio::posix::stream_descriptor setup(io_, proc->setup_result.release());
    std::string message;
    char buf[512];
    while (true) {
      boost::system::error_code ec;
      std::size_t n = co_await setup.async_read_some(asio::buffer(buf),
                                                     asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      message.append(buf, n);
    }
    if (auto s = jail::setup_status(message); !s) {
      spdlog::error("event=sandbox_setup_failed id={} error=\"{}\"", sbx->id, s.message());
      sbx->conn.reset();
      co_await teardown(sbx);
      co_return s;
    }
  }
  sbx->conn = std::make_shared<Connection>(io_.get_executor(), std::move(proc->control));
  std::weak_ptr<Sandbox> weak = sbx;
  sbx->conn->start([this, weak](const std::string& reason) {
    auto s = weak.lock();
    if (!s || s->ending) return;
    spdlog::warn("event=sandbox_lost id={} reason=\"{}\"", s->id, reason);
    asio::co_spawn(io_, destroy(s->id), asio::detached);
  });
  if (!co_await sbx->conn->wait_hello()) {
    co_await teardown(sbx);
    co_return Status::internal("sandbox " + sbx->id + " did not start (kiln-init exited)");
  }
  {
    auto listener = jail::listen_in_netns(sbx->pidfd.get(), egress::kProxyPort);
    if (!listener) {
      spdlog::error("event=egress_listener_failed id={} error=\"{}\"", sbx->id,
                    listener.status().message());
      co_await teardown(sbx);
      co_return listener.status();
    }
    sbx->egress = std::make_shared<egress::SandboxEgress>(sbx->id);
    sbx->egress->mirrors = mirrors_;
    egress::ProxyOptions po;
    po.operator_cidrs = &egress_cidrs_;
    po.resolver = &resolver_;
    egress::start_proxy(io_, std::move(*listener), sbx->egress, po);
  }
  if (prestart_python) {
    for (const auto& language : config_.pool_languages) {
      // A pool sandbox waits unseen, so its Python context imports the
      // heavy modules now rather than in the user's first cell.
      auto registered = register_context(*sbx, language, "/home/user", true);
      if (!registered) {
        co_await teardown(sbx);
        co_return registered.status();
      }
      // A named local, not a ?: temporary inside the co_await: GCC 12
      // destroys such a temporary twice in a coroutine (a crash seen here).
      std::vector<std::string> preload;
      if (language == "python") preload = config_.python_preload;
      auto ctx = co_await start_context(sbx, std::move(*registered), std::move(preload));
      if (!ctx) {
        co_await teardown(sbx);
        co_return ctx.status();
      }
    }
  }
  co_return sbx;
}

awaitable<Result<std::pair<std::shared_ptr<Sandbox>, bool>>> SandboxManager::create(
    CreateRequest req) {
  using Out = std::pair<std::shared_ptr<Sandbox>, bool>;
  const std::string session_key = req.workspace + "\n" + req.session;
  if (!req.session.empty()) {
    auto it = sessions_.find(session_key);
    if (it != sessions_.end()) {
      if (auto s = find(it->second, req.workspace)) co_return Out{s, false};
    }
  }
  if (auto s = validate_limits(req.limits); !s) co_return s;
  if (auto s = check_network_ceiling(req.workspace, req.network); !s) co_return s;
  const std::uint64_t timeout = req.timeout_s.value_or(config_.sandbox_timeout_s);
  if (timeout < 1 || timeout > config_.max_sandbox_timeout_s) {
    co_return Status::invalid("timeout_s must be between 1 and " +
                              std::to_string(config_.max_sandbox_timeout_s));
  }
  if (static_cast<int>(sandboxes_.size()) + spawning_ >= config_.max_sandboxes) {
    co_return Status::rate_limited(
        "sandbox limit reached: " + std::to_string(config_.max_sandboxes) +
        " live sandboxes; delete one or raise --max-sandboxes");
  }
  std::shared_ptr<Sandbox> sbx;
  // A pool sandbox's preloaded modules count against its memory limit, so
  // it serves only creates that leave at least the default for the user.
  const bool poolable =
      req.limits.disk_mb == config_.default_limits.disk_mb && req.env.empty() &&
      (config_.python_preload.empty() || req.limits.memory_mb >= config_.default_limits.memory_mb);
  while (poolable && !pool_.empty() && !sbx) {
    auto candidate = pool_.front();
    pool_.pop_front();
    if (candidate->conn && !candidate->conn->closed())
      sbx = candidate;
    else
      asio::co_spawn(io_, teardown(candidate), asio::detached);
  }
  if (sbx) {
    // Handed out: normal CPU priority, and the requested limits where they
    // differ from the pool's. A sandbox that cannot take them (typically a
    // memory limit below what its preloaded context already holds: the
    // kernel refuses it) is dropped, and a fresh one is started instead.
    Status fit = sbx->cgroup->set_cpu_priority(jail::CpuPriority::kForeground);
    const Limits& d = sbx->limits;
    if (fit && (d.memory_mb != req.limits.memory_mb || d.cpus != req.limits.cpus ||
                d.pids != req.limits.pids)) {
      fit = sbx->cgroup->set_limits(
          jail::CgroupLimits{req.limits.memory_mb << 20, req.limits.cpus, req.limits.pids});
    }
    if (fit) {
      ++stats_.pool_hits;
    } else {
      spdlog::info("event=pool_sandbox_unfit id={} error=\"{}\"", sbx->id, fit.message());
      asio::co_spawn(io_, teardown(sbx), asio::detached);
      sbx.reset();
    }
  }
  if (sbx) {
    sbx->limits = req.limits;
  } else {
    ++spawning_;
    auto made = co_await spawn(req.limits, req.env, /*prestart_python=*/false);
    --spawning_;
    if (!made) co_return made.status();
    if (stopping_) {
      co_await teardown(*made);
      co_return Status::unavailable("kilnd is stopping");
    }
    sbx = *made;
    // Register the default Python context before create returns (an execute
    // that follows finds it, whatever runs first), and start it without
    // waiting: that execute queues behind the start in kiln-init.
    auto info = register_context(*sbx, std::string(kDefaultLanguage), "/home/user", true);
    if (!info) co_return info.status();
    asio::co_spawn(
        io_,
        [this, sbx, info = std::move(*info)]() mutable -> awaitable<void> {
          auto r = co_await start_context(sbx, std::move(info));
          if (!r)
            spdlog::warn("event=context_start_failed id={} error=\"{}\"", sbx->id,
                         r.status().message());
        },
        asio::detached);
  }
  sbx->workspace = req.workspace;
  sbx->egress->workspace = req.workspace;
  sbx->egress->policy = req.network;
  sbx->template_name = req.template_name;
  sbx->session = req.session;
  sbx->metadata = req.metadata;
  sbx->auto_resume = req.auto_resume;
  sbx->created_at = SystemClock::now();
  sbx->expires_at = sbx->created_at + std::chrono::seconds(timeout);
  sandboxes_[sbx->id] = sbx;
  if (!req.session.empty()) sessions_[session_key] = sbx->id;
  ++stats_.created;
  ledger_open(*sbx);
  co_await blocking_.barrier();  // an acknowledged sandbox is on the ledger
  spdlog::info("event=sandbox_created id={} slot={} pool={} session=\"{}\"", sbx->id, sbx->slot,
               sbx->contexts.empty() ? "no" : "yes", sbx->session);
  asio::co_spawn(io_, fill_pool(), asio::detached);
  co_return Out{sbx, true};
}

std::shared_ptr<Sandbox> SandboxManager::find(const std::string& id, const std::string& workspace) {
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end() || it->second->ending) return nullptr;
  if (it->second->workspace != workspace) return nullptr;
  if (it->second->expired()) return nullptr;  // the sweeper ends it
  return it->second;
}

std::vector<std::shared_ptr<Sandbox>> SandboxManager::list(const std::string& workspace) {
  std::vector<std::shared_ptr<Sandbox>> out;
  const auto now = SystemClock::now();
  for (auto& [id, s] : sandboxes_)
    if (!s->ending && !s->expired(now) && s->workspace == workspace) out.push_back(s);
  return out;
}

Status SandboxManager::set_timeout(Sandbox& sbx, std::uint64_t timeout_s) {
  if (timeout_s < 1 || timeout_s > config_.max_sandbox_timeout_s) {
    return Status::invalid("timeout_s must be between 1 and " +
                           std::to_string(config_.max_sandbox_timeout_s));
  }
  // While paused the clock stands still: count from the pause, so that
  // resuming (which adds the paused time) leaves `timeout_s` from then.
  sbx.expires_at =
      (sbx.paused() ? sbx.paused_at : SystemClock::now()) + std::chrono::seconds(timeout_s);
  return Status::ok();
}

awaitable<Status> SandboxManager::pause(std::shared_ptr<Sandbox> sbx) {
  if (sbx->paused()) co_return Status::ok();
  if (!sbx->cgroup || !sbx->cgroup->can_freeze()) {
    co_return Status::unavailable(
        "pause needs the cgroup freezer, and this host has neither a v1 freezer mount nor "
        "cgroup.freeze in its unified hierarchy (kilnd's start-up log says which)");
  }
  if (auto st = sbx->cgroup->set_frozen(true); !st) co_return st;
  // Paused from here on (a resume that arrives while the kernel is still
  // freezing thaws it again), so the TTL clock stops at the request.
  sbx->paused_at = SystemClock::now();
  // Freezing is asynchronous: sleeping tasks freeze at once, a running one
  // at its next return to user space; a task stuck in the kernel (D state)
  // may never, and then the sandbox keeps running rather than half-frozen.
  const auto deadline = std::chrono::steady_clock::now() + kFreezeTimeout;
  for (std::chrono::microseconds step(200);; step = std::min(step * 2, kMaxFreezePoll)) {
    if (!sbx->paused() || sbx->ending || !sbx->cgroup) {
      co_return Status::conflict("sandbox " + sbx->id + " was resumed or ended while pausing");
    }
    auto frozen = sbx->cgroup->frozen();
    if (frozen && *frozen) break;
    if (!frozen || std::chrono::steady_clock::now() >= deadline) {
      (void)co_await resume(sbx);
      co_return frozen ? Status::conflict("sandbox " + sbx->id + " could not be frozen within " +
                                          std::to_string(kFreezeTimeout.count()) +
                                          " ms (a process is stuck in the kernel); it keeps "
                                          "running")
                       : frozen.status();
    }
    co_await sleep_for(step);
  }
  spdlog::info("event=sandbox_paused id={}", sbx->id);
  co_return Status::ok();
}

awaitable<Status> SandboxManager::resume(std::shared_ptr<Sandbox> sbx) {
  if (!sbx->paused()) co_return Status::ok();
  if (sbx->cgroup) {
    if (auto st = sbx->cgroup->set_frozen(false); !st) co_return st;
  }
  // One place for "paused time is neither TTL nor active time": the
  // deadline moves out by the pause, and paused_ms (which meter_run
  // subtracts from a run that spanned it) grows by it.
  const auto now = SystemClock::now();
  sbx->paused_ms = sbx->paused_ms_now(now);
  sbx->expires_at = sbx->deadline(now);
  sbx->paused_at = {};
  spdlog::info("event=sandbox_resumed id={} paused_ms_total={}", sbx->id, sbx->paused_ms);
  co_return Status::ok();
}

awaitable<Status> SandboxManager::ensure_running(std::shared_ptr<Sandbox> sbx) {
  if (!sbx->paused()) co_return Status::ok();
  if (sbx->auto_resume) co_return co_await resume(std::move(sbx));
  co_return Status::paused("sandbox " + sbx->id + " is paused: POST /v1/sandboxes/" + sbx->id +
                           "/resume first (or create it with \"auto_resume\": true)");
}

awaitable<void> SandboxManager::destroy(std::string id) {
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end()) co_return;
  auto sbx = it->second;
  sandboxes_.erase(it);
  co_await teardown(sbx);
}

awaitable<void> SandboxManager::teardown(std::shared_ptr<Sandbox> sbx) {
  if (sbx->ending && sbx->slot < 0) co_return;
  sbx->ending = true;
  if (!sbx->session.empty()) {
    auto it = sessions_.find(sbx->workspace + "\n" + sbx->session);
    if (it != sessions_.end() && it->second == sbx->id) sessions_.erase(it);
  }
  if (sbx->conn) sbx->conn->close();
  if (sbx->egress) sbx->egress->shutdown();
  if (ledger_ && sbx->created_at.time_since_epoch().count() != 0) {
    record_usage(*sbx);  // cgroup counters are still readable here
    ledger_close(*sbx);
    co_await blocking_.barrier();
  }
  // Killing PID 1 of the sandbox's pid namespace makes the kernel kill every
  // other process in it; the cgroup kill below catches any straggler.
  if (sbx->init_pid > 0) {
    ::kill(sbx->init_pid, SIGKILL);
    // A frozen process keeps SIGKILL pending until thawed: thaw after the
    // kill, so a paused sandbox dies without running another instruction.
    if (sbx->paused() && sbx->cgroup) (void)sbx->cgroup->set_frozen(false);
    if (sbx->pidfd.valid()) {
      asio::posix::stream_descriptor pd(io_, ::dup(sbx->pidfd.get()));
      asio::steady_timer guard(io_, std::chrono::seconds(5));
      guard.async_wait([&pd](boost::system::error_code ec) {
        if (!ec) pd.cancel();
      });
      boost::system::error_code ec;
      co_await pd.async_wait(asio::posix::stream_descriptor::wait_read,
                             asio::redirect_error(use_awaitable, ec));
      guard.cancel();
    }
    // The spawner is its parent and reaps it.
    sbx->init_pid = -1;
  }
  if (sbx->cgroup) {
    // The wait for the cgroup to empty may take seconds: off the I/O thread,
    // with the Cgroup handed over whole (no one else touches it now).
    std::unique_ptr<jail::Cgroup> cg = std::move(sbx->cgroup);
    Status removed = co_await blocking_.run([&cg] {
      Status s = cg->kill_all_and_remove();
      cg.reset();
      return s;
    });
    if (!removed)
      spdlog::error("event=cgroup_remove_failed id={} error=\"{}\"", sbx->id, removed.message());
  }
  sbx->pidfd.reset();
  if (sbx->slot >= 0) free_slots_.insert(sbx->slot);
  sbx->slot = -1;
  ++stats_.destroyed;
  spdlog::info("event=sandbox_ended id={} active_ms={} executions={}", sbx->id, sbx->active_ms,
               sbx->executions);
}

awaitable<Result<std::shared_ptr<Sandbox>>> SandboxManager::system_sandbox() {
  constexpr const char* kSystemWorkspace = "_kiln";
  if (auto s = find(system_sandbox_id_, kSystemWorkspace)) {
    // Keep it alive while it is in use.
    s->expires_at = SystemClock::now() + std::chrono::seconds(config_.sandbox_timeout_s);
    co_return s;
  }
  CreateRequest req;
  req.workspace = kSystemWorkspace;
  req.limits = config_.default_limits;
  auto made = co_await create(std::move(req));
  if (!made) co_return made.status();
  system_sandbox_id_ = made->first->id;
  co_return made->first;
}

// The ledger's writes, queued in order on the blocking pool. (Plain
// functions, not lambdas in the coroutines: GCC 12 miscompiles such
// captures at -O2 and above.)
void SandboxManager::ledger_open(const Sandbox& sbx) {
  if (!ledger_) return;
  blocking_.post_ordered([ledger = ledger_, id = sbx.id, ws = sbx.workspace, at = sbx.created_at] {
    if (auto s = ledger->open_sandbox(id, ws, at); !s)
      spdlog::error("event=ledger_error id={} error=\"{}\"", id, s.message());
  });
}

void SandboxManager::ledger_close(const Sandbox& sbx) {
  blocking_.post_ordered([ledger = ledger_, id = sbx.id, at = SystemClock::now()] {
    if (auto s = ledger->close_sandbox(id, at); !s)
      spdlog::error("event=ledger_error id={} error=\"{}\"", id, s.message());
  });
}

void SandboxManager::record_usage(Sandbox& sbx) {
  if (!ledger_ || sbx.created_at.time_since_epoch().count() == 0) return;  // pool: not handed out
  storage::UsageTotals t;
  t.active_ms = static_cast<std::int64_t>(sbx.active_ms);
  t.executions = static_cast<std::int64_t>(sbx.executions);
  if (sbx.cgroup) {
    if (auto u = sbx.cgroup->usage()) {
      // Keep the largest figures seen: a restarted context must not make
      // the peak or the CPU total go down.
      sbx.cpu_ms_seen = std::max<std::uint64_t>(sbx.cpu_ms_seen, u->cpu_usage_ns / 1000000);
      sbx.memory_peak_seen = std::max<std::uint64_t>(sbx.memory_peak_seen, u->memory_peak_bytes);
    }
  }
  t.cpu_ms = static_cast<std::int64_t>(sbx.cpu_ms_seen);
  t.memory_peak_bytes = static_cast<std::int64_t>(sbx.memory_peak_seen);
  blocking_.post_ordered([ledger = ledger_, id = sbx.id, t, at = SystemClock::now()] {
    if (auto s = ledger->update(id, t, at); !s)
      spdlog::error("event=ledger_error id={} error=\"{}\"", id, s.message());
  });
}

awaitable<void> SandboxManager::meter_run(Sandbox& sbx, std::uint64_t duration_ms,
                                          std::uint64_t paused_during_ms) {
  sbx.active_ms += duration_ms - std::min(duration_ms, paused_during_ms);
  ++sbx.executions;
  ++stats_.executions;
  record_usage(sbx);
  co_await blocking_.barrier();
}

Status SandboxManager::check_quota(const std::string& workspace) {
  if (!ledger_reader_) return Status::ok();
  auto spent = ledger_reader_->quota_exhausted(workspace);
  if (!spent) return spent.status();
  if (*spent) {
    return Status::quota_exceeded(
        "workspace " + workspace +
        " has used all its credits; ask an operator to add more (kilnd credits set)");
  }
  return Status::ok();
}

awaitable<void> SandboxManager::fill_pool() {
  if (filling_ || stopping_) co_return;
  filling_ = true;
  int failures = 0;
  while (!stopping_ && static_cast<int>(pool_.size()) < config_.pool_size) {
    const protocol::StringMap no_env;
    auto made = co_await spawn(config_.default_limits, no_env, true);
    if (!made) {
      spdlog::error("event=pool_fill_failed error=\"{}\"", made.status().message());
      if (++failures >= 3) break;
      co_await sleep_for(std::chrono::milliseconds(500 * failures));
      continue;
    }
    if (stopping_) {
      co_await teardown(*made);
      break;
    }
    pool_.push_back(*made);
  }
  filling_ = false;
}

awaitable<void> SandboxManager::sweep_loop() {
  while (!stopping_) {
    co_await sleep_for(std::chrono::milliseconds(500));
    const auto now = SystemClock::now();
    std::vector<std::string> expired;
    // A paused sandbox's TTL stands still, but it holds its slot: it ends
    // once paused for the longest lifetime a sandbox may ask for.
    const auto max_pause = std::chrono::seconds(config_.max_sandbox_timeout_s);
    for (auto& [id, s] : sandboxes_)
      if (s->expired(now) || (s->paused() && now - s->paused_at >= max_pause))
        expired.push_back(id);
    for (auto& id : expired) {
      ++stats_.expired;
      spdlog::info("event=sandbox_expired id={}", id);
      co_await destroy(id);
    }
  }
}

Result<ContextInfo> SandboxManager::register_context(Sandbox& sbx, const std::string& language,
                                                     const std::string& cwd, bool is_default) {
  if (!supported_language(language)) {
    return Status::invalid("unsupported language: " + language +
                           " (supported: " + language_names() + ")");
  }
  auto path = normalize_sandbox_path(cwd.empty() ? "/home/user" : cwd);
  if (!path) return Status::invalid("cwd: " + path.status().message());
  ContextInfo info{new_id("ctx_"), language, *path, is_default};
  sbx.contexts[info.id] = info;
  if (is_default) sbx.default_context[language] = info.id;
  return info;
}

awaitable<Result<ContextInfo>> SandboxManager::create_context(std::shared_ptr<Sandbox> sbx,
                                                              std::string language, std::string cwd,
                                                              bool is_default) {
  auto registered = register_context(*sbx, language, cwd, is_default);
  if (!registered) co_return registered.status();
  co_return co_await start_context(std::move(sbx), std::move(*registered));
}

awaitable<Result<ContextInfo>> SandboxManager::start_context(std::shared_ptr<Sandbox> sbx,
                                                             ContextInfo info,
                                                             std::vector<std::string> preload) {
  const std::string language = info.language;
  const bool is_default = info.is_default;
  protocol::Request request =
      protocol::StartContext{info.id, language, info.cwd, sbx->env, std::move(preload)};
  auto reply = co_await call(*sbx, std::move(request));
  if (!reply) {
    sbx->contexts.erase(info.id);
    auto d = sbx->default_context.find(language);
    if (is_default && d != sbx->default_context.end() && d->second == info.id)
      sbx->default_context.erase(d);
    co_return reply.status();
  }
  co_return info;
}

awaitable<Status> SandboxManager::delete_context(std::shared_ptr<Sandbox> sbx, std::string ctx,
                                                 bool restart) {
  auto it = sbx->contexts.find(ctx);
  if (it == sbx->contexts.end()) co_return Status::not_found("context " + ctx + " not found");
  if (!restart) {
    if (it->second.is_default) sbx->default_context.erase(it->second.language);
    sbx->contexts.erase(it);
  }
  protocol::Request request = protocol::StopContext{ctx, restart};
  auto reply = co_await call(*sbx, std::move(request));
  co_return reply ? Status::ok() : reply.status();
}

awaitable<Result<ContextInfo>> SandboxManager::resolve_context(std::shared_ptr<Sandbox> sbx,
                                                               const std::string& context_id,
                                                               const std::string& language) {
  if (!context_id.empty()) {
    auto it = sbx->contexts.find(context_id);
    if (it == sbx->contexts.end())
      co_return Status::not_found("context " + context_id + " not found");
    co_return it->second;
  }
  const std::string lang = language.empty() ? std::string(kDefaultLanguage) : language;
  if (!supported_language(lang)) {
    co_return Status::invalid("unsupported language: " + lang + " (supported: " + language_names() +
                              ")");
  }
  auto d = sbx->default_context.find(lang);
  if (d != sbx->default_context.end()) {
    auto it = sbx->contexts.find(d->second);
    if (it != sbx->contexts.end()) co_return it->second;
  }
  co_return co_await create_context(sbx, lang, "/home/user", true);
}

}  // namespace kiln::sandbox
