// kilnd: the Kiln daemon. Parses settings, cleans up after a crashed run,
// starts the sandbox manager and the HTTP server on one io_context thread,
// and on SIGTERM/SIGINT ends every sandbox before exiting.
#include <linux/limits.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "api/server.h"
#include "api/services.h"
#include "common/blocking_pool.h"
#include "daemon/admin.h"
#include "daemon/config.h"
#include "jail/cgroup.h"
#include "jail/spawner.h"
#include "mcp/bridge.h"
#include "mcp/session.h"
#include "sandbox/manager.h"
#include "storage/schema.h"

namespace {

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr: stdout is for command output (a new API key).
  spdlog::set_default_logger(spdlog::stderr_logger_st("kilnd"));
  // `kilnd mcp --url …`: the stdio <-> HTTP bridge an MCP client launches;
  // it needs none of the daemon's settings, privileges or data.
  if (argc >= 2 && std::string(argv[1]) == "mcp") return kiln::mcp::run_bridge(argc - 1, argv + 1);
  auto parsed = kiln::parse_config(argc, argv);
  if (!parsed) {
    const std::string& m = parsed.status().message();
    if (m.rfind("exit:0\n", 0) == 0) {
      std::fputs(m.c_str() + 7, stdout);
      return 0;
    }
    std::fprintf(stderr, "kilnd: %s\n", m.c_str());
    return 2;
  }
  kiln::Config config = *parsed;
  if (auto s = kiln::finalize_config(config, exe_dir()); !s) {
    std::fprintf(stderr, "kilnd: %s\n", s.message().c_str());
    return 2;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  char real[PATH_MAX];
  ::mkdir(config.data_dir.c_str(), 0755);
  if (::realpath(config.data_dir.c_str(), real)) config.data_dir = real;

  auto db = kiln::storage::Database::open(config.data_dir + "/kiln.db");
  if (!db) {
    std::fprintf(stderr, "kilnd: %s\n", db.status().message().c_str());
    return 1;
  }
  if (auto st = kiln::storage::migrate(*db); !st) {
    std::fprintf(stderr, "kilnd: database: %s\n", st.message().c_str());
    return 1;
  }
  kiln::storage::KeyStore keys(*db);
  kiln::storage::Ledger ledger(*db);
  if (!config.command.empty()) {
    kiln::storage::NetworkCeilings ceilings(*db);
    return kiln::run_admin_command(config, keys, ledger, ceilings);
  }

  if (::geteuid() != 0) {
    spdlog::critical(
        "event=start_failed reason=\"kilnd must run as root to create namespaces and cgroups\"");
    return 1;
  }
  // Before any thread exists: every sandbox is cloned from this process.
  auto spawner = kiln::jail::Spawner::start();
  if (!spawner) {
    spdlog::critical("event=start_failed reason=\"spawner: {}\"", spawner.status().message());
    return 1;
  }
  auto any_keys = keys.any_keys();
  if (!any_keys) {
    spdlog::critical("event=start_failed reason=\"key store: {}\"", any_keys.status().message());
    return 1;
  }
  if (!*any_keys && !kiln::is_loopback_host(config.listen_host)) {
    spdlog::critical(
        "event=start_failed reason=\"refusing to listen on {} with no API keys: auth may be "
        "off only on a loopback listener; create a key with 'kilnd keys create --data-dir {} "
        "--workspace NAME'\"",
        config.listen_host, config.data_dir);
    return 1;
  }

  kiln::storage::DriveOptions drive_options;
  drive_options.blob_dir = config.data_dir + "/blobs";
  drive_options.file_cap_bytes = static_cast<std::int64_t>(config.file_cap_bytes);
  drive_options.temporary_ttl = std::chrono::seconds(config.drive_temporary_ttl_s);
  drive_options.session_ttl = std::chrono::seconds(config.drive_session_ttl_s);
  kiln::storage::Drive drive(*db, drive_options);
  if (auto rec = drive.recover(); rec) {
    spdlog::info(
        "event=drive_recovered temp_files={} rows_without_blob={} orphan_blobs={} expired={}",
        rec->temp_files_removed, rec->rows_without_blob_removed, rec->orphan_blobs_removed,
        rec->expired_removed);
  } else {
    spdlog::critical("event=start_failed reason=\"drive recovery: {}\"", rec.status().message());
    return 1;
  }
  if (auto closed = ledger.close_dangling(); closed) {
    spdlog::info("event=ledger_recovered sandboxes_closed={}", *closed);
  }

  std::optional<kiln::skills::SkillRegistry> skills;
  if (!config.skills_dir.empty()) {
    auto loaded = kiln::skills::SkillRegistry::load(config.skills_dir);
    if (loaded) {
      skills = std::move(*loaded);
      for (const auto& w : skills->warnings()) spdlog::warn("event=skill_skipped reason=\"{}\"", w);
      spdlog::info("event=skills_loaded dir={} count={}", config.skills_dir, skills->list().size());
    } else {
      spdlog::warn("event=skills_unavailable reason=\"{}\"", loaded.status().message());
    }
  }
  auto policy = kiln::net::AddressPolicy::from_allowlist(config.fetch_allowlist);
  if (!policy) {
    spdlog::critical("event=start_failed reason=\"--fetch-allow: {}\"", policy.status().message());
    return 1;
  }
  auto secret = kiln::load_or_create_secret(config.data_dir + "/link.secret");
  if (!secret) {
    spdlog::critical("event=start_failed reason=\"{}\"", secret.status().message());
    return 1;
  }

  auto layout = kiln::jail::CgroupLayout::detect(config.cgroup_root, config.cgroup_parent);
  if (!layout) {
    spdlog::critical("event=start_failed reason=\"cgroups: {}\"", layout.status().message());
    return 1;
  }
  spdlog::info("event=cgroups {}", layout->describe());
  for (const auto& note : layout->notes()) spdlog::warn("event=cgroup_note note=\"{}\"", note);
  if (layout->freezer_version() == kiln::jail::CgroupVersion::kNone) {
    // Not fatal: everything but pause works; pause answers 503 saying why.
    spdlog::warn(
        "event=cgroup_note note=\"freezer: no v1 freezer mount and no cgroup.freeze in the "
        "unified hierarchy: sandboxes cannot be paused\"");
  }

  // Hot-path reads (API keys, quota) get a connection of their own: in WAL
  // mode a reader never waits for the writer the blocking pool is running.
  auto read_db = kiln::storage::Database::open(config.data_dir + "/kiln.db");
  if (!read_db) {
    spdlog::critical("event=start_failed reason=\"database: {}\"", read_db.status().message());
    return 1;
  }
  kiln::storage::KeyStore key_reader(*read_db);
  kiln::storage::Ledger ledger_reader(*read_db);
  kiln::storage::NetworkCeilings ceilings_reader(*read_db);

  // From here on kilnd has threads: the spawner was forked before them.
  kiln::BlockingPool pool(4);
  boost::asio::io_context io;
  kiln::sandbox::SandboxManager manager(io, config, *layout, *spawner, pool);
  manager.set_ledger(&ledger, &ledger_reader);
  manager.set_network_ceilings(&ceilings_reader);
  if (auto st = manager.configure_egress(); !st) {
    spdlog::critical("event=start_failed reason=\"{}\"", st.message());
    return 1;
  }
  manager.cleanup_previous_run();
  kiln::api::Services services{manager,
                               pool,
                               &key_reader,
                               &drive,
                               &ledger_reader,
                               skills ? &*skills : nullptr,
                               std::move(*policy),
                               std::move(*secret)};
  kiln::mcp::SessionStore mcp_sessions(config.mcp_max_sessions,
                                       std::chrono::seconds(config.mcp_session_idle_s));
  services.mcp_sessions = &mcp_sessions;
  services.mcp_hosts = config.mcp_allow_hosts;
  if (config.listen_host != "0.0.0.0" && config.listen_host != "::")
    services.mcp_hosts.push_back(config.listen_host);
  kiln::api::Server server(io, services);
  if (auto st = server.listen(config.listen_host, config.listen_port); !st) {
    spdlog::critical("event=start_failed reason=\"{}\"", st.message());
    return 1;
  }
  spdlog::info("event=listening address={}:{} data_dir={} pool_size={} auth={}", config.listen_host,
               server.port(), config.data_dir, config.pool_size,
               *any_keys ? "on" : "off reason=\"loopback listener and no API keys\"");
  server.start();
  manager.start();

  // Expired Drive files go on a timer (and at start-up, in recover()).
  boost::asio::steady_timer sweep(io);
  std::function<void()> arm_sweep = [&] {
    sweep.expires_after(std::chrono::seconds(5));
    sweep.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (auto n = drive.sweep_expired(); n && *n > 0)
        spdlog::info("event=drive_swept files={}", *n);
      arm_sweep();
    });
  };
  arm_sweep();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("event=stopping signal={}", sig);
    server.stop();
    sweep.cancel();
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          co_await manager.shutdown();
          // Nothing of this daemon's is left in any hierarchy. A child that
          // outlived its sandbox's teardown (a process slow to die under
          // load) is drained here first, or the parent's rmdir would fail.
          if (auto n = kiln::jail::remove_stale_cgroups(manager.cgroups()); n && *n > 0) {
            spdlog::warn("event=cgroup_stragglers removed={}", *n);
          }
          if (auto st = kiln::jail::remove_parent_cgroups(manager.cgroups()); !st) {
            spdlog::warn("event=cgroup_parent_left error=\"{}\"", st.message());
          }
          io.stop();
        },
        boost::asio::detached);
  });
  ::signal(SIGPIPE, SIG_IGN);
  io.run();
  spdlog::info("event=stopped");
  return 0;
}
