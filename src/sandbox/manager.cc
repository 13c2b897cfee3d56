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

#include "common/sandbox_path.h"
#include "jail/spawn.h"

namespace kiln::sandbox {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr const char* kLanguages = "python, javascript, typescript, bash";

bool supported_language(const std::string& l) {
  return l == "python" || l == "javascript" || l == "typescript" || l == "bash";
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace

SandboxManager::SandboxManager(asio::io_context& io, const Config& config,
                               jail::CgroupLayout layout)
    : io_(io), config_(config), layout_(std::move(layout)) {
  for (int i = 1; i <= config_.max_sandboxes + config_.pool_size; ++i) free_slots_.insert(i);
  staging_dir_ = config_.data_dir + "/rootfs";
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
  const uid_t hi =
      config_.uid_base + static_cast<uid_t>(config_.max_sandboxes + config_.pool_size) + 1;
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
  ::mkdir(staging_dir_.c_str(), 0755);
  spdlog::info("event=cleanup processes_killed={} cgroups_removed={}", killed,
               removed ? *removed : 0);
}

void SandboxManager::start() {
  asio::co_spawn(io_, fill_pool(), asio::detached);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
}

awaitable<void> SandboxManager::shutdown() {
  stopping_ = true;
  std::vector<std::shared_ptr<Sandbox>> all;
  for (auto& [id, s] : sandboxes_) all.push_back(s);
  for (auto& s : pool_) all.push_back(s);
  sandboxes_.clear();
  sessions_.clear();
  pool_.clear();
  for (auto& s : all) co_await teardown(s);
  spdlog::info("event=shutdown sandboxes_ended={}", all.size());
}

Status SandboxManager::validate_limits(const Limits& l) const {
  const Limits& m = config_.max_limits;
  if (l.memory_mb < 32 || l.memory_mb > m.memory_mb)
    return Status::error("limits.memory_mb must be between 32 and " + std::to_string(m.memory_mb),
                         EINVAL);
  if (l.cpus <= 0 || l.cpus > m.cpus)
    return Status::error("limits.cpus must be > 0 and at most " + std::to_string(m.cpus), EINVAL);
  if (l.pids < 8 || l.pids > m.pids)
    return Status::error("limits.pids must be between 8 and " + std::to_string(m.pids), EINVAL);
  if (l.disk_mb < 1 || l.disk_mb > m.disk_mb)
    return Status::error("limits.disk_mb must be between 1 and " + std::to_string(m.disk_mb),
                         EINVAL);
  if (l.exec_timeout_s < 1 || l.exec_timeout_s > m.exec_timeout_s)
    return Status::error(
        "limits.exec_timeout_s must be between 1 and " + std::to_string(m.exec_timeout_s), EINVAL);
  return Status::ok();
}

awaitable<Result<std::shared_ptr<Sandbox>>> SandboxManager::spawn(const Limits& limits,
                                                                  const nlohmann::json& env,
                                                                  bool prestart_python) {
  auto slot = take_slot();
  if (!slot) co_return Status::error("no free sandbox slot", EAGAIN);
  auto sbx = std::make_shared<Sandbox>();
  sbx->id = new_id("sbx_");
  sbx->slot = *slot;
  sbx->limits = limits;
  sbx->env = env;
  auto release = [&](Status s) -> Result<std::shared_ptr<Sandbox>> {
    free_slots_.insert(sbx->slot);
    return s;
  };
  jail::CgroupLimits cl;
  cl.memory_bytes = limits.memory_mb << 20;
  cl.cpus = limits.cpus;
  cl.pids = limits.pids;
  auto cg = jail::Cgroup::create(layout_, sbx->id, cl);
  if (!cg) co_return release(cg.status());
  sbx->cgroup = std::move(*cg);

  jail::JailSpec spec;
  spec.host_uid = config_.uid_base + static_cast<uid_t>(sbx->slot);
  spec.host_gid = spec.host_uid;
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
  jail::Cgroup* cgp = sbx->cgroup.get();
  spec.attach = [cgp](pid_t pid) { return cgp->add_process(pid); };
  auto proc = jail::spawn_jailed(spec);
  if (!proc) {
    (void)sbx->cgroup->kill_all_and_remove();
    sbx->cgroup.reset();
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
  sbx->conn->start([this, weak] {
    auto s = weak.lock();
    if (!s || s->ending) return;
    spdlog::warn("event=sandbox_lost id={} reason=\"kiln-init closed its socket\"", s->id);
    asio::co_spawn(io_, destroy(s->id), asio::detached);
  });
  if (!co_await sbx->conn->wait_hello()) {
    co_await teardown(sbx);
    co_return Status::error("sandbox " + sbx->id + " did not start (kiln-init exited)");
  }
  if (prestart_python) {
    for (const auto& language : config_.pool_languages) {
      auto ctx = co_await create_context(sbx, language, "/home/user", true);
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
  const std::uint64_t timeout = req.timeout_s.value_or(config_.sandbox_timeout_s);
  if (timeout < 1 || timeout > config_.max_sandbox_timeout_s) {
    co_return Status::error(
        "timeout_s must be between 1 and " + std::to_string(config_.max_sandbox_timeout_s), EINVAL);
  }
  if (static_cast<int>(sandboxes_.size()) + spawning_ >= config_.max_sandboxes) {
    co_return Status::error("sandbox limit reached: " + std::to_string(config_.max_sandboxes) +
                                " live sandboxes; delete one or raise --max-sandboxes",
                            EAGAIN);
  }
  std::shared_ptr<Sandbox> sbx;
  const bool poolable = req.limits.disk_mb == config_.default_limits.disk_mb && req.env.empty();
  while (poolable && !pool_.empty() && !sbx) {
    auto candidate = pool_.front();
    pool_.pop_front();
    if (candidate->conn && !candidate->conn->closed())
      sbx = candidate;
    else
      asio::co_spawn(io_, teardown(candidate), asio::detached);
  }
  if (sbx) {
    ++stats_.pool_hits;
    const Limits& d = sbx->limits;
    if (d.memory_mb != req.limits.memory_mb || d.cpus != req.limits.cpus ||
        d.pids != req.limits.pids) {
      jail::CgroupLimits cl{req.limits.memory_mb << 20, req.limits.cpus, req.limits.pids};
      if (auto s = sbx->cgroup->set_limits(cl); !s) {
        asio::co_spawn(io_, teardown(sbx), asio::detached);
        co_return s;
      }
    }
    sbx->limits = req.limits;
  } else {
    ++spawning_;
    auto made = co_await spawn(req.limits, req.env, /*prestart_python=*/false);
    --spawning_;
    if (!made) co_return made.status();
    sbx = *made;
    // Start the default Python context now without waiting for it: the
    // first execute queues behind it in kiln-init.
    asio::co_spawn(
        io_,
        [this, sbx]() -> awaitable<void> {
          auto r = co_await create_context(sbx, "python", "/home/user", true);
          if (!r)
            spdlog::warn("event=context_start_failed id={} error=\"{}\"", sbx->id,
                         r.status().message());
        },
        asio::detached);
  }
  sbx->workspace = req.workspace;
  sbx->template_name = req.template_name;
  sbx->session = req.session;
  sbx->metadata = req.metadata;
  sbx->created_at = SystemClock::now();
  sbx->expires_at = sbx->created_at + std::chrono::seconds(timeout);
  sandboxes_[sbx->id] = sbx;
  if (!req.session.empty()) sessions_[session_key] = sbx->id;
  ++stats_.created;
  if (ledger_) {
    if (auto s = ledger_->open_sandbox(sbx->id, sbx->workspace, sbx->created_at); !s) {
      spdlog::error("event=ledger_error id={} error=\"{}\"", sbx->id, s.message());
    }
  }
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
    return Status::error(
        "timeout_s must be between 1 and " + std::to_string(config_.max_sandbox_timeout_s), EINVAL);
  }
  sbx.expires_at = SystemClock::now() + std::chrono::seconds(timeout_s);
  return Status::ok();
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
  if (ledger_ && sbx->created_at.time_since_epoch().count() != 0) {
    record_usage(*sbx);  // cgroup counters are still readable here
    if (auto s = ledger_->close_sandbox(sbx->id, SystemClock::now()); !s) {
      spdlog::error("event=ledger_error id={} error=\"{}\"", sbx->id, s.message());
    }
  }
  // Killing PID 1 of the sandbox's pid namespace makes the kernel kill every
  // other process in it; the cgroup kill below catches any straggler.
  if (sbx->init_pid > 0) {
    ::kill(sbx->init_pid, SIGKILL);
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
    ::waitpid(sbx->init_pid, nullptr, WNOHANG);
    sbx->init_pid = -1;
  }
  if (sbx->cgroup) {
    if (auto s = sbx->cgroup->kill_all_and_remove(); !s) {
      spdlog::error("event=cgroup_remove_failed id={} error=\"{}\"", sbx->id, s.message());
    }
    sbx->cgroup.reset();
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
  if (auto s = ledger_->update(sbx.id, t, SystemClock::now()); !s) {
    spdlog::error("event=ledger_error id={} error=\"{}\"", sbx.id, s.message());
  }
}

Status SandboxManager::check_quota(const std::string& workspace) {
  if (!ledger_) return Status::ok();
  auto spent = ledger_->quota_exhausted(workspace);
  if (!spent) return spent.status();
  if (*spent) {
    return Status::error(
        "workspace " + workspace +
            " has used all its credits; ask an operator to add more (kilnd credits set)",
        EDQUOT);
  }
  return Status::ok();
}

awaitable<void> SandboxManager::fill_pool() {
  if (filling_ || stopping_) co_return;
  filling_ = true;
  int failures = 0;
  while (!stopping_ && static_cast<int>(pool_.size()) < config_.pool_size) {
    auto made = co_await spawn(config_.default_limits, nlohmann::json::object(), true);
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
    for (auto& [id, s] : sandboxes_)
      if (s->expired(now)) expired.push_back(id);
    for (auto& id : expired) {
      ++stats_.expired;
      spdlog::info("event=sandbox_expired id={}", id);
      co_await destroy(id);
    }
  }
}

awaitable<Result<ContextInfo>> SandboxManager::create_context(std::shared_ptr<Sandbox> sbx,
                                                              std::string language, std::string cwd,
                                                              bool is_default) {
  if (!supported_language(language)) {
    co_return Status::error(
        "unsupported language: " + language + " (supported: " + std::string(kLanguages) + ")",
        EINVAL);
  }
  auto path = normalize_sandbox_path(cwd.empty() ? "/home/user" : cwd);
  if (!path) co_return Status::error("cwd: " + path.status().message(), EINVAL);
  ContextInfo info{new_id("ctx_"), language, *path, is_default};
  sbx->contexts[info.id] = info;
  if (is_default) sbx->default_context[language] = info.id;
  auto q = sbx->conn->open({{"op", "ctx_start"},
                            {"ctx", info.id},
                            {"language", language},
                            {"cwd", info.cwd},
                            {"env", sbx->env}});
  auto reply = co_await q->pop();
  if (!reply || !reply->msg.value("ok", false)) {
    sbx->contexts.erase(info.id);
    if (is_default) sbx->default_context.erase(language);
    co_return Status::error(
        reply ? reply->msg.value("message", "context failed to start") : "sandbox ended", EIO);
  }
  co_return info;
}

awaitable<Status> SandboxManager::delete_context(std::shared_ptr<Sandbox> sbx, std::string ctx,
                                                 bool restart) {
  auto it = sbx->contexts.find(ctx);
  if (it == sbx->contexts.end()) co_return Status::error("context " + ctx + " not found", ENOENT);
  auto q = sbx->conn->open({{"op", restart ? "ctx_restart" : "ctx_stop"}, {"ctx", ctx}});
  if (!restart) {
    if (it->second.is_default) sbx->default_context.erase(it->second.language);
    sbx->contexts.erase(it);
  }
  auto reply = co_await q->pop();
  if (!reply) co_return Status::error("sandbox ended", EIO);
  if (!reply->msg.value("ok", false))
    co_return Status::error(reply->msg.value("message", "failed"), EIO);
  co_return Status::ok();
}

awaitable<Result<ContextInfo>> SandboxManager::resolve_context(std::shared_ptr<Sandbox> sbx,
                                                               const std::string& context_id,
                                                               const std::string& language) {
  if (!context_id.empty()) {
    auto it = sbx->contexts.find(context_id);
    if (it == sbx->contexts.end())
      co_return Status::error("context " + context_id + " not found", ENOENT);
    co_return it->second;
  }
  const std::string lang = language.empty() ? "python" : language;
  if (!supported_language(lang)) {
    co_return Status::error(
        "unsupported language: " + lang + " (supported: " + std::string(kLanguages) + ")", EINVAL);
  }
  auto d = sbx->default_context.find(lang);
  if (d != sbx->default_context.end()) {
    auto it = sbx->contexts.find(d->second);
    if (it != sbx->contexts.end()) co_return it->second;
  }
  co_return co_await create_context(sbx, lang, "/home/user", true);
}

}  // namespace kiln::sandbox
