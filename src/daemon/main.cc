// kilnd: the Kiln daemon. Parses settings, cleans up after a crashed run,
// starts the sandbox manager and the HTTP server on one io_context thread,
// and on SIGTERM/SIGINT ends every sandbox before exiting.
#include <linux/limits.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <string>

#include "api/server.h"
#include "daemon/config.h"
#include "jail/cgroup.h"
#include "sandbox/manager.h"

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
  if (::geteuid() != 0) {
    spdlog::critical(
        "event=start_failed reason=\"kilnd must run as root to create namespaces and cgroups\"");
    return 1;
  }
  if (!kiln::is_loopback_host(config.listen_host)) {
    // API keys arrive with the workspace feature; until then only a
    // loopback listener is safe.
    spdlog::critical(
        "event=start_failed reason=\"refusing to listen on {}: there are no API keys, and "
        "auth may be off only on a loopback address\"",
        config.listen_host);
    return 1;
  }
  char real[PATH_MAX];
  ::mkdir(config.data_dir.c_str(), 0755);
  if (::realpath(config.data_dir.c_str(), real)) config.data_dir = real;

  auto layout = kiln::jail::CgroupLayout::detect(config.cgroup_root, config.cgroup_parent);
  if (!layout) {
    spdlog::critical("event=start_failed reason=\"cgroups: {}\"", layout.status().message());
    return 1;
  }
  spdlog::info("event=cgroups {}", layout->describe());
  for (const auto& note : layout->notes()) spdlog::warn("event=cgroup_note note=\"{}\"", note);

  boost::asio::io_context io;
  kiln::sandbox::SandboxManager manager(io, config, *layout);
  manager.cleanup_previous_run();
  kiln::api::Server server(io, manager);
  if (auto s = server.listen(config.listen_host, config.listen_port); !s) {
    spdlog::critical("event=start_failed reason=\"{}\"", s.message());
    return 1;
  }
  spdlog::info(
      "event=listening address={}:{} data_dir={} pool_size={} auth=off reason=\"loopback "
      "listener and no API keys\"",
      config.listen_host, server.port(), config.data_dir, config.pool_size);
  server.start();
  manager.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("event=stopping signal={}", sig);
    server.stop();
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
