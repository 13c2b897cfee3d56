#include "jail/spawner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/frame.h"

namespace kiln::jail {
namespace {

using nlohmann::json;

// ---- the request: a JailSpec as JSON (a trusted channel: kilnd's own) ----

json to_json(const JailSpec& s) {
  json files = json::array();
  for (const auto& [name, contents] : s.rootfs.etc_files) files.push_back({name, contents});
  return {{"hostname", s.hostname},
          {"user_uid", s.ids.user_host_uid},
          {"init_uid", s.ids.init_host_uid},
          {"staging_dir", s.staging_dir},
          {"init_binary", s.init_binary},
          {"runtimes_dir", s.runtimes_dir},
          {"skills_dir", s.skills_dir},
          {"etc_binds", s.rootfs.etc_binds},
          {"etc_files", files},
          {"tmp_bytes", s.rootfs.tmp_bytes},
          {"home_bytes", s.rootfs.home_bytes},
          {"shm_bytes", s.rootfs.shm_bytes},
          {"fsize_bytes", s.rlimits.fsize_bytes},
          {"nofile", s.rlimits.nofile},
          {"nproc", s.rlimits.nproc},
          {"seccomp", s.seccomp},
          {"cgroup_procs", s.cgroup_procs}};
}

JailSpec from_json(const json& j) {
  JailSpec s;
  s.hostname = j.at("hostname").get<std::string>();
  s.ids = {j.at("user_uid").get<uid_t>(), j.at("init_uid").get<uid_t>()};
  s.staging_dir = j.at("staging_dir").get<std::string>();
  s.init_binary = j.at("init_binary").get<std::string>();
  s.runtimes_dir = j.at("runtimes_dir").get<std::string>();
  s.skills_dir = j.at("skills_dir").get<std::string>();
  s.rootfs.etc_binds = j.at("etc_binds").get<std::vector<std::string>>();
  for (const auto& f : j.at("etc_files"))
    s.rootfs.etc_files.emplace_back(f.at(0).get<std::string>(), f.at(1).get<std::string>());
  s.rootfs.tmp_bytes = j.at("tmp_bytes").get<std::uint64_t>();
  s.rootfs.home_bytes = j.at("home_bytes").get<std::uint64_t>();
  s.rootfs.shm_bytes = j.at("shm_bytes").get<std::uint64_t>();
  s.rlimits.fsize_bytes = j.at("fsize_bytes").get<unsigned long long>();
  s.rlimits.nofile = j.at("nofile").get<unsigned long long>();
  s.rlimits.nproc = j.at("nproc").get<unsigned long long>();
  s.seccomp = j.at("seccomp").get<bool>();
  s.cgroup_procs = j.at("cgroup_procs").get<std::vector<std::string>>();
  return s;
}

// ---- framing over the socketpair ----

// One message, with up to three fds attached on the first byte.
Status send_message(int sock, const std::string& bytes, const int* fds, int nfds) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    iovec iov{const_cast<char*>(bytes.data() + sent), bytes.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))] = {};
    if (sent == 0 && nfds > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(static_cast<std::size_t>(nfds) * sizeof(int));
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(static_cast<std::size_t>(nfds) * sizeof(int));
      std::memcpy(CMSG_DATA(c), fds, static_cast<std::size_t>(nfds) * sizeof(int));
    }
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno("sendmsg(spawner)");
    }
    sent += static_cast<std::size_t>(n);
  }
  return Status::ok();
}

// Reads one frame, collecting any fds that came with it. Empty optional
// at EOF.
Result<std::optional<protocol::Frame>> recv_message(int sock, protocol::FrameDecoder& decoder,
                                                    std::vector<UniqueFd>& fds) {
  while (true) {
    auto frame = decoder.next();
    if (!frame) return frame.status();
    if (frame->has_value()) return frame;
    char buf[65536];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno("recvmsg(spawner)");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
    }
    if (n == 0) return std::optional<protocol::Frame>();
    decoder.feed(buf, static_cast<std::size_t>(n));
  }
}

// ---- the spawner process ----

void reap_children() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

void answer(int sock, const JailSpec& spec) {
  auto threads = thread_count();
  Result<JailedProcess> proc =
      !threads ? Result<JailedProcess>(threads.status())
      : *threads != 1
          ? Result<JailedProcess>(Status::internal("the spawner has " + std::to_string(*threads) +
                                                   " threads; refusing to clone"))
          : spawn_jailed(spec);
  if (!proc) {
    auto bytes =
        protocol::encode_frame({{{"ok", false}, {"message", proc.status().message()}}, "", 0});
    if (bytes) (void)send_message(sock, *bytes, nullptr, 0);
    return;
  }
  auto bytes = protocol::encode_frame({{{"ok", true}, {"pid", proc->pid}}, "", 0});
  const int fds[3] = {proc->pidfd.get(), proc->control.get(), proc->setup_result.get()};
  if (bytes) (void)send_message(sock, *bytes, fds, 3);
  // Our copies close here; the sandbox's init stays our child until it exits.
}

[[noreturn]] void spawner_main(int sock) {
  ::prctl(PR_SET_NAME, "kilnd-spawner", 0, 0, 0);
  sigset_t mask;
  ::sigemptyset(&mask);
  ::sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  protocol::FrameDecoder decoder;
  while (true) {
    pollfd pfds[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0 && errno != EINTR) ::_exit(1);
    if (pfds[1].revents != 0) {
      signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == sizeof si) {
      }
      reap_children();
    }
    if (pfds[0].revents == 0) continue;
    std::vector<UniqueFd> fds;
    auto frame = recv_message(sock, decoder, fds);
    if (!frame || !frame->has_value()) ::_exit(0);  // kilnd is gone
    JailSpec spec;
    try {
      spec = from_json((**frame).msg);
    } catch (const std::exception& e) {
      auto bytes = protocol::encode_frame(
          {{{"ok", false}, {"message", std::string("bad spawn request: ") + e.what()}}, "", 0});
      if (bytes) (void)send_message(sock, *bytes, nullptr, 0);
      continue;
    }
    answer(sock, spec);
    reap_children();
  }
}

}  // namespace

Result<int> thread_count() {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return Status::from_errno("opendir(/proc/self/task)");
  int n = 0;
  while (auto* de = ::readdir(d)) n += de->d_name[0] != '.';
  ::closedir(d);
  return n;
}

Result<Spawner> Spawner::start() {
  auto threads = thread_count();
  if (!threads) return threads.status();
  if (*threads != 1) {
    return Status::internal("the spawner must be forked while kilnd is single-threaded (it has " +
                            std::to_string(*threads) + " threads)");
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::from_errno("socketpair(spawner)");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::from_errno("fork(spawner)");
  if (pid == 0) {
    ours.reset();
    // If kilnd dies, so does the spawner (and with it, every sandbox).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    spawner_main(theirs.get());
  }
  return Spawner(pid, std::move(ours));
}

Spawner::~Spawner() {
  if (pid_ <= 0) return;
  sock_.reset();
  ::waitpid(pid_, nullptr, 0);
}

Result<JailedProcess> Spawner::spawn(const JailSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  auto bytes = protocol::encode_frame({to_json(spec), "", 0});
  if (!bytes) return bytes.status();
  if (auto s = send_message(sock_.get(), *bytes, nullptr, 0); !s) return s;
  std::vector<UniqueFd> fds;
  auto frame = recv_message(sock_.get(), decoder_, fds);
  if (!frame) return frame.status();
  if (!frame->has_value()) return Status::internal("the spawner exited");
  const json& m = (**frame).msg;
  if (!m.value("ok", false)) return Status::internal(m.value("message", "spawn failed"));
  if (fds.size() != 3)
    return Status::internal("the spawner sent " + std::to_string(fds.size()) + " fds, not 3");
  JailedProcess proc;
  proc.pid = m.value("pid", -1);
  proc.pidfd = std::move(fds[0]);
  proc.control = std::move(fds[1]);
  proc.setup_result = std::move(fds[2]);
  return proc;
}

}  // namespace kiln::jail
