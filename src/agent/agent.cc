#include "agent/agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/commands.h"
#include "agent/contexts.h"
#include "agent/environment.h"
#include "agent/file_ops.h"
#include "common/overloaded.h"
#include "common/unique_fd.h"
#include "protocol/frame.h"

namespace kiln::agent {
namespace {

constexpr std::uint64_t kFileCap = 64ull << 20;  // kilnd enforces the real cap

protocol::ReplyCode reply_code(const std::string& file_error_code) {
  using protocol::ReplyCode;
  if (file_error_code == "not_found") return ReplyCode::kNotFound;
  if (file_error_code == "bad_request") return ReplyCode::kBadRequest;
  if (file_error_code == "too_large") return ReplyCode::kTooLarge;
  if (file_error_code == "insufficient_storage") return ReplyCode::kNoSpace;
  return ReplyCode::kInternal;
}

class Agent final : public EventSink {
 public:
  explicit Agent(int control_fd)
      : control_(control_fd),
        contexts_(real_proc_ops(), *this),
        commands_(real_proc_ops(), *this) {}

  int run() {
    sigset_t mask;
    ::sigemptyset(&mask);
    ::sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    send(0, protocol::Hello{::getpid()});
    while (!done_) loop_once();
    return 0;
  }

  void send(std::uint64_t rid, protocol::Event event) override {
    auto bytes = protocol::encode_frame(protocol::encode_event(rid, event));
    if (!bytes) {
      // Only a reply can be this large (file bytes over the frame cap).
      bytes = protocol::encode_frame(protocol::encode_event(
          rid, protocol::refusal(protocol::ReplyCode::kTooLarge, bytes.status().message())));
    }
    if (!bytes || !write_all(control_, bytes->data(), bytes->size())) done_ = true;
  }

 private:
  // ---- requests from kilnd ----
  void handle(std::uint64_t rid, protocol::Request request) {
    std::visit(Overloaded{
                   [&](protocol::Ping&) { send(rid, protocol::ok_reply()); },
                   [&](protocol::StartContext& r) { contexts_.start(rid, r); },
                   [&](protocol::StopContext& r) { contexts_.stop(rid, r); },
                   [&](protocol::Execute& r) { contexts_.execute(rid, std::move(r)); },
                   [&](protocol::Interrupt& r) {
                     contexts_.interrupt(r.target);
                     commands_.interrupt(r.target);
                   },
                   [&](protocol::RunCommand& r) { commands_.start(rid, std::move(r)); },
                   [&](protocol::ListCommands&) { commands_.list(rid); },
                   [&](protocol::GetCommand& r) { commands_.get(rid, r.pid); },
                   [&](protocol::KillCommand& r) { commands_.kill(rid, r.pid); },
                   [&](auto& file_request) { send(rid, file_reply(file_request)); },
               },
               request);
  }

  // File operations, with the code's rights and never kiln-init's.
  template <typename R>
  protocol::Reply file_reply(R& r) {
    UserFsRights as_user;
    if (!as_user.ok()) {
      return protocol::refusal(protocol::ReplyCode::kInternal,
                               "could not take the sandbox user's rights for a file operation");
    }
    return do_file(r);
  }
  static protocol::Reply failed(const FileError& e) {
    return protocol::refusal(reply_code(e.code), e.message);
  }
  protocol::Reply do_file(protocol::ListFiles& r) {
    nlohmann::json entries;
    if (auto e = list_dir(r.path, entries); !e.code.empty()) return failed(e);
    return protocol::ok_reply({{"entries", std::move(entries)}});
  }
  protocol::Reply do_file(protocol::ReadFile& r) {
    std::string data;
    if (auto e = read_file(r.path, r.cap > 0 ? r.cap : kFileCap, data); !e.code.empty())
      return failed(e);
    const std::size_t size = data.size();
    return protocol::ok_reply({{"size", size}}, std::move(data));
  }
  protocol::Reply do_file(protocol::WriteFile& r) {
    std::uint64_t size = 0;
    if (auto e = write_file(r.path, r.data, size); !e.code.empty()) return failed(e);
    return protocol::ok_reply({{"path", r.path}, {"size", size}});
  }
  protocol::Reply do_file(protocol::DeleteFile& r) {
    if (auto e = remove_path(r.path); !e.code.empty()) return failed(e);
    return protocol::ok_reply();
  }
  protocol::Reply do_file(protocol::MakeDir& r) {
    if (auto e = make_dirs(r.path); !e.code.empty()) return failed(e);
    return protocol::ok_reply({{"path", r.path}});
  }

  void read_control() {
    char buf[65536];
    const ssize_t n = ::read(control_, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      done_ = true;  // kilnd is gone: PID 1 exits and the kernel ends the sandbox
      return;
    }
    if (n < 0) return;
    decoder_.feed(buf, static_cast<std::size_t>(n));
    while (true) {
      auto frame = decoder_.next();
      if (!frame) {
        done_ = true;
        return;
      }
      if (!frame->has_value()) break;
      auto rid_field = (**frame).msg.find("rid");
      const std::uint64_t rid = rid_field != (**frame).msg.end() && rid_field->is_number_unsigned()
                                    ? rid_field->get<std::uint64_t>()
                                    : 0;
      auto request = protocol::decode_request(std::move(**frame));
      if (!request) {
        send(rid, protocol::refusal(protocol::ReplyCode::kBadRequest,
                                    "malformed request: " + request.status().message()));
        continue;
      }
      handle(request->rid, std::move(request->request));
    }
  }

  // ---- the loop ----
  void reap() {
    signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
    }
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (!contexts_.on_exit(pid, status)) commands_.on_exit(pid, status);
    }
  }

  int poll_timeout_ms() {
    std::optional<Clock::time_point> next = contexts_.next_deadline();
    if (auto c = commands_.next_deadline(); c && (!next || *c < *next)) next = c;
    if (!next) return -1;
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
    return ms < 0 ? 0 : static_cast<int>(ms) + 1;
  }

  void loop_once() {
    Watches watches;
    watches.push_back({control_, [this] { read_control(); }});
    watches.push_back({sigfd_.get(), [this] { reap(); }});
    contexts_.add_watches(watches);
    commands_.add_watches(watches);
    std::vector<pollfd> fds;
    fds.reserve(watches.size());
    for (const auto& w : watches) fds.push_back({w.fd, POLLIN, 0});
    const int n = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      done_ = true;
      return;
    }
    for (std::size_t i = 0; i < fds.size() && !done_; ++i) {
      if (fds[i].revents != 0) watches[i].ready();
    }
    contexts_.check_deadlines();
    commands_.check_deadlines();
  }

  int control_;
  UniqueFd sigfd_;
  bool done_ = false;
  protocol::FrameDecoder decoder_;
  Contexts contexts_;
  Commands commands_;
};

}  // namespace

int run_agent(int control_fd) { return Agent(control_fd).run(); }

}  // namespace kiln::agent
