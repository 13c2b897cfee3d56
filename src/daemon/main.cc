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
#include "daemon/admin.h"
#include "daemon/config.h"
#include "jail/cgroup.h"
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
  if (!config.command.empty()) return kiln::run_admin_command(config, keys, ledger);

  if (::geteuid() != 0) {
    spdlog::critical(
        "event=start_failed reason=\"kilnd must run as root to create namespaces and cgroups\"");
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

  boost::asio::io_context io;
  kiln::sandbox::SandboxManager manager(io, config, *layout);
  manager.set_ledger(&ledger);
  manager.cleanup_previous_run();
  kiln::api::Services services{
      manager,           &keys, &drive, &ledger, skills ? &*skills : nullptr, std::move(*policy),
      std::move(*secret)};
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
          io.stop();
        },
        boost::asio::detached);
  });
  ::signal(SIGPIPE, SIG_IGN);
  io.run();
  spdlog::info("event=stopped");
  return 0;
}
