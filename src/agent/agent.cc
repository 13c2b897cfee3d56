#include "agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/file_ops.h"
#include "agent/utf8.h"
#include "common/unique_fd.h"
#include "protocol/frame.h"

namespace kiln::agent {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kInterruptGrace = std::chrono::seconds(2);
constexpr std::size_t kRecentOutput = 64 * 1024;
constexpr std::size_t kMaxFinishedCommands = 64;
constexpr std::uint64_t kFileCap = 64ull << 20;  // kilnd enforces the real cap

struct Pipe {
  UniqueFd fd;
  std::string carry;  // an incomplete UTF-8 sequence from the last read
};

struct OutputBudget {
  std::uint64_t rid = 0;
  std::uint64_t cap = 1 << 20;
  std::uint64_t sent[2] = {0, 0};
  std::uint64_t dropped[2] = {0, 0};
};

struct Runner {
  std::string id, language, cwd;
  json env = json::object();
  pid_t pid = -1;
  UniqueFd ctl;
  std::string ctl_buf;
  Pipe out, err;
  bool ready = false;
  bool failed = false;
  std::uint64_t start_rid = 0;
  bool busy = false;
  OutputBudget run;
  std::optional<json> pending;
  std::optional<Clock::time_point> deadline, kill_deadline;
  bool timed_out = false;
  int timeout_s = 0;
};

struct Command {
  pid_t pid = -1;
  std::string cmd;
  bool background = false;
  OutputBudget run;
  Pipe out, err;
  std::string recent[2];
  bool running = true;
  int exit_code = -1;
  bool timed_out = false;
  std::optional<Clock::time_point> deadline;
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd {
          fd, POLLOUT, 0
        };
        ::poll(&pfd, 1, 1000);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::vector<std::string> build_env(const json& base_extra, const json& env) {
  std::map<std::string, std::string> vars = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                             {"HOME", "/home/user"},
                                             {"USER", "user"},
                                             {"LOGNAME", "user"},
                                             {"SHELL", "/bin/bash"},
                                             {"LANG", "C.UTF-8"},
                                             {"TMPDIR", "/tmp"}};
  for (const json* src : {&base_extra, &env}) {
    if (!src->is_object()) continue;
    for (auto it = src->begin(); it != src->end(); ++it) {
      if (it.value().is_string()) vars[it.key()] = it.value().get<std::string>();
    }
  }
  std::vector<std::string> out;
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// Forks a child in its own process group with stdout/stderr on pipes.
// extra_fd (if >= 0) becomes the child's fd 3; stdin_fd (if >= 0) its fd 0.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& cwd, int stdin_fd, int extra_fd, Pipe& out, Pipe& err) {
  int o[2], e[2];
  if (::pipe2(o, O_CLOEXEC) != 0) return -1;
  if (::pipe2(e, O_CLOEXEC) != 0) {
    ::close(o[0]);
    ::close(o[1]);
    return -1;
  }
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& v : env) cenv.push_back(const_cast<char*>(v.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int in = stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY);
    if (extra_fd >= 0 && extra_fd != 3) {
      // Move it out of the way of 0..2 first, then to 3.
      int tmp = ::fcntl(extra_fd, F_DUPFD, 10);
      ::dup2(tmp, 3);
    } else if (extra_fd == 3) {
      ::fcntl(3, F_SETFD, 0);
    }
    ::dup2(in, 0);
    ::dup2(o[1], 1);
    ::dup2(e[1], 2);
    ::close_range(extra_fd >= 0 ? 4 : 3, ~0U, 0);
    // Memory limits must kill the code, never PID 1 (its death ends the
    // sandbox): what kiln-init starts is the OOM killer's first choice.
    // (kiln-init is undumpable, which makes its children's /proc files
    // root's until execve; the child becomes dumpable again to write it.)
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (int adj = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); adj >= 0) {
      (void)!::write(adj, "500", 3);
      ::close(adj);
    }
    if (::chdir(cwd.c_str()) != 0) (void)!::chdir("/home/user");
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(o[1]);
  ::close(e[1]);
  if (pid < 0) {
    ::close(o[0]);
    ::close(e[0]);
    return -1;
  }
  out.fd.reset(o[0]);
  err.fd.reset(e[0]);
  out.carry.clear();
  err.carry.clear();
  set_nonblocking(o[0]);
  set_nonblocking(e[0]);
  return pid;
}

// "" when path is a directory the sandbox user can enter, else why not.
std::string check_dir(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cwd " + path + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "cwd " + path + " is not a directory";
  if (::access(path.c_str(), X_OK) != 0) return "cwd " + path + ": " + std::strerror(errno);
  return "";
}

// Every runner speaks the same JSON-lines protocol on its fd 3 (see
// runtimes/python/runner.py); only how it is started differs.
std::vector<std::string> runner_argv(const std::string& language) {
  if (language == "python") {
    return {"/usr/bin/python3", "-u", "/opt/kiln/runtimes/python/runner.py"};
  }
  if (language == "javascript" || language == "typescript") {
    return {"/usr/bin/node", "/opt/kiln/runtimes/node/runner.js", "--language", language};
  }
  if (language == "bash") {
    return {"/usr/bin/python3", "-u", "/opt/kiln/runtimes/bash/runner.py"};
  }
  return {};
}

class Agent {
 public:
  explicit Agent(int control_fd) : control_(control_fd) {}

  int run() {
    sigset_t mask;
    ::sigemptyset(&mask);
    ::sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    send({{"op", "hello"}, {"pid", ::getpid()}});
    while (!done_) loop_once();
    return 0;
  }

 private:
  // ---- sending to kilnd ----
  void send(const json& msg, const std::string& data = {}) {
    auto bytes = protocol::encode_frame(protocol::Frame{msg, data});
    if (!bytes) {
      bytes = protocol::encode_frame(protocol::Frame{{{"op", "reply"},
                                                      {"rid", msg.value("rid", 0)},
                                                      {"ok", false},
                                                      {"code", "too_large"},
                                                      {"message", bytes.status().message()}},
                                                     ""});
    }
    if (!write_all(control_, bytes->data(), bytes->size())) done_ = true;
  }
  void reply_ok(std::uint64_t rid, json extra = json::object(), const std::string& data = {}) {
    extra["op"] = "reply";
    extra["rid"] = rid;
    extra["ok"] = true;
    send(extra, data);
  }
  void reply_error(std::uint64_t rid, const std::string& code, const std::string& message) {
    send({{"op", "reply"}, {"rid", rid}, {"ok", false}, {"code", code}, {"message", message}});
  }

  // ---- output relaying ----
  void emit_output(OutputBudget& b, int stream, std::string_view text) {
    if (text.empty()) return;
    std::uint64_t room = b.cap > b.sent[stream] ? b.cap - b.sent[stream] : 0;
    std::string_view part = text.substr(0, std::min<std::uint64_t>(room, text.size()));
    if (part.size() < text.size()) {
      part = part.substr(0, complete_utf8_prefix(part));
      b.dropped[stream] += text.size() - part.size();
    }
    if (part.empty()) return;
    b.sent[stream] += part.size();
    send({{"op", stream == 0 ? "stdout" : "stderr"}, {"rid", b.rid}, {"text", std::string(part)}});
  }
  void flush_truncation(OutputBudget& b) {
    for (int s = 0; s < 2; ++s) {
      if (b.dropped[s] == 0) continue;
      // A notice of its own (not glued to the user's last line).
      send({{"op", s == 0 ? "stdout" : "stderr"},
            {"rid", b.rid},
            {"notice", true},
            {"text", "[kiln: output truncated at " + std::to_string(b.cap) + " bytes; " +
                         std::to_string(b.dropped[s]) + " bytes dropped]\n"}});
    }
  }
  // Reads what a pipe has now. Returns false at EOF/error (pipe closed).
  bool read_pipe(Pipe& p, std::string& text) {
    char buf[65536];
    bool open = true;
    while (true) {
      ssize_t n = ::read(p.fd.get(), buf, sizeof buf);
      if (n > 0) {
        p.carry.append(buf, static_cast<std::size_t>(n));
        if (p.carry.size() > (1 << 20)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (n < 0 && errno != EAGAIN)) open = false;
      break;
    }
    std::size_t cut = open ? complete_utf8_prefix(p.carry) : p.carry.size();
    text.assign(p.carry, 0, cut);
    p.carry.erase(0, cut);
    if (!open) p.fd.reset();
    return open;
  }
  void drain_runner(Runner& r) {
    std::string text;
    for (int s = 0; s < 2; ++s) {
      Pipe& p = s == 0 ? r.out : r.err;
      if (!p.fd.valid()) continue;
      read_pipe(p, text);
      if (r.busy) emit_output(r.run, s, text);
    }
  }
  void drain_command(Command& c) {
    std::string text;
    for (int s = 0; s < 2; ++s) {
      Pipe& p = s == 0 ? c.out : c.err;
      if (!p.fd.valid()) continue;
      read_pipe(p, text);
      if (c.background) {
        c.recent[s] += text;
        if (c.recent[s].size() > kRecentOutput)
          c.recent[s].erase(0, c.recent[s].size() - kRecentOutput);
      } else {
        emit_output(c.run, s, text);
      }
    }
  }

  // ---- runners ----
  bool start_runner(Runner& r, std::string& why) {
    auto argv = runner_argv(r.language);
    if (argv.empty()) {
      why = "unsupported language: " + r.language;
      return false;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      why = std::string("socketpair: ") + std::strerror(errno);
      return false;
    }
    json extra = {{"MPLBACKEND", "Agg"},
                  {"MPLCONFIGDIR", "/tmp/.kiln-matplotlib"},
                  {"PYTHONUNBUFFERED", "1"},
                  {"PYTHONDONTWRITEBYTECODE", "1"}};
    r.pid = spawn(argv, build_env(extra, r.env), r.cwd, -1, sv[1], r.out, r.err);
    ::close(sv[1]);
    if (r.pid < 0) {
      ::close(sv[0]);
      why = std::string("fork: ") + std::strerror(errno);
      return false;
    }
    r.ctl.reset(sv[0]);
    r.ctl_buf.clear();
    r.ready = false;
    return true;
  }

  void runner_line(Runner& r, const std::string& line) {
    json msg = json::parse(line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) return;
    const std::string type = msg.value("type", "");
    if (type == "ready") {
      r.ready = true;
      if (r.start_rid) reply_ok(std::exchange(r.start_rid, 0), {{"pid", r.pid}});
      if (r.pending) {
        json exec = std::move(*r.pending);
        r.pending.reset();
        dispatch_exec(r, exec);
      }
      return;
    }
    if (!r.busy) return;
    drain_runner(r);
    if (type == "result") {
      msg.erase("type");
      send({{"op", "result"}, {"rid", r.run.rid}, {"result", msg}});
    } else if (type == "error") {
      msg.erase("type");
      if (r.timed_out && msg.value("name", "") == "KeyboardInterrupt") {
        msg["name"] = "TimeoutError";
        msg["value"] = "execution exceeded the " + std::to_string(r.timeout_s) +
                       " s timeout and was interrupted; the context kept its state";
      }
      send({{"op", "error"}, {"rid", r.run.rid}, {"error", msg}});
    } else if (type == "done") {
      flush_truncation(r.run);
      send({{"op", "end"},
            {"rid", r.run.rid},
            {"execution_count", msg.value("execution_count", 0)},
            {"timed_out", r.timed_out}});
      r.busy = false;
      r.deadline.reset();
      r.kill_deadline.reset();
      r.timed_out = false;
    }
  }

  void dispatch_exec(Runner& r, const json& exec) {
    json line = {{"type", "execute"},
                 {"code", exec.value("code", "")},
                 {"env", exec.value("env", json::object())}};
    std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (!write_all(r.ctl.get(), s.data(), s.size())) {
      ::kill(-r.pid, SIGKILL);  // the death path reports it
      return;
    }
    const int timeout_ms = exec.value("timeout_ms", 0);
    if (timeout_ms > 0) r.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }

  void on_runner_exit(Runner& r, int status) {
    drain_runner(r);
    r.ctl.reset();
    r.out.fd.reset();
    r.err.fd.reset();
    const bool was_ready = r.ready;
    r.ready = false;
    json exit_info = WIFSIGNALED(status) ? json{{"signal", WTERMSIG(status)}}
                                         : json{{"code", WEXITSTATUS(status)}};
    if (r.busy) {
      flush_truncation(r.run);
      send({{"op", "end"},
            {"rid", r.run.rid},
            {"timed_out", r.timed_out},
            {"runner_exit", exit_info},
            {"restarted", true}});
      r.busy = false;
    }
    r.deadline.reset();
    r.kill_deadline.reset();
    r.timed_out = false;
    if (!was_ready) {
      // Died before saying ready: do not loop restarting a broken runner.
      r.failed = true;
      if (r.start_rid) {
        reply_error(
            std::exchange(r.start_rid, 0), "internal",
            "the " + r.language + " runner exited during start-up (" + exit_info.dump() + ")");
      }
      if (r.pending) {
        json p = std::move(*r.pending);
        r.pending.reset();
        reply_error(p.value("rid", 0), "internal", "the context's runner failed to start");
      }
      return;
    }
    std::string why;
    if (!start_runner(r, why)) r.failed = true;
  }

  // ---- commands ----
  void start_command(const json& msg, const std::string& stdin_data) {
    const std::uint64_t rid = msg.value("rid", 0);
    auto cmd = std::make_unique<Command>();
    cmd->cmd = msg.value("cmd", "");
    cmd->background = msg.value("background", false);
    cmd->run.rid = rid;
    cmd->run.cap = msg.value("output_cap", std::uint64_t{1} << 20);
    const std::string cwd = msg.value("cwd", "/home/user");
    if (auto e = check_dir(cwd); !e.empty()) return reply_error(rid, "bad_request", e);
    int in[2] = {-1, -1};
    if (!stdin_data.empty()) {
      if (::pipe2(in, O_CLOEXEC) != 0) return reply_error(rid, "internal", "pipe failed");
      ::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
    }
    cmd->pid = spawn({"/bin/sh", "-c", cmd->cmd},
                     build_env(json::object(), msg.value("env", json::object())), cwd, in[0], -1,
                     cmd->out, cmd->err);
    if (in[0] >= 0) ::close(in[0]);
    if (cmd->pid < 0) {
      if (in[1] >= 0) ::close(in[1]);
      return reply_error(rid, "internal", std::string("fork: ") + std::strerror(errno));
    }
    if (in[1] >= 0) {
      set_nonblocking(in[1]);
      (void)!::write(in[1], stdin_data.data(), stdin_data.size());
      ::close(in[1]);
    }
    const int timeout_ms = msg.value("timeout_ms", 0);
    if (timeout_ms > 0) cmd->deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    if (cmd->background) reply_ok(rid, {{"pid", cmd->pid}});
    commands_[cmd->pid] = std::move(cmd);
  }

  void finish_command(Command& c) {
    drain_command(c);
    c.out.fd.reset();
    c.err.fd.reset();
    c.running = false;
    c.deadline.reset();
    if (!c.background) {
      flush_truncation(c.run);
      send({{"op", "end"},
            {"rid", c.run.rid},
            {"exit_code", c.exit_code},
            {"timed_out", c.timed_out}});
    }
  }

  void prune_commands() {
    std::size_t finished = 0;
    for (auto& [pid, c] : commands_) finished += c->running ? 0 : 1;
    for (auto it = commands_.begin(); it != commands_.end() && finished > kMaxFinishedCommands;) {
      if (!it->second->running) {
        it = commands_.erase(it);
        --finished;
      } else {
        ++it;
      }
    }
    for (auto it = commands_.begin(); it != commands_.end();) {
      // Foreground commands are forgotten once reported.
      if (!it->second->running && !it->second->background)
        it = commands_.erase(it);
      else
        ++it;
    }
  }

  json command_json(const Command& c, bool with_output) {
    json j = {{"pid", c.pid}, {"cmd", c.cmd}, {"running", c.running}};
    j["exit_code"] = c.running ? json(nullptr) : json(c.exit_code);
    if (with_output) {
      j["stdout"] = c.recent[0];
      j["stderr"] = c.recent[1];
    }
    return j;
  }

  // ---- requests from kilnd ----
  void handle(const protocol::Frame& frame) {
    const json& msg = frame.msg;
    const std::string op = msg.value("op", "");
    const std::uint64_t rid = msg.value("rid", std::uint64_t{0});
    if (op == "ping") return reply_ok(rid);
    if (op == "ctx_start") {
      const std::string id = msg.value("ctx", "");
      if (runners_.count(id)) return reply_error(rid, "conflict", "context exists: " + id);
      auto r = std::make_unique<Runner>();
      r->id = id;
      r->language = msg.value("language", "python");
      r->cwd = msg.value("cwd", "/home/user");
      r->env = msg.value("env", json::object());
      r->start_rid = rid;
      if (auto e = check_dir(r->cwd); !e.empty()) return reply_error(rid, "bad_request", e);
      std::string why;
      if (!start_runner(*r, why)) return reply_error(rid, "bad_request", why);
      runners_[id] = std::move(r);
      return;
    }
    if (op == "ctx_stop" || op == "ctx_restart") {
      auto it = runners_.find(msg.value("ctx", ""));
      if (it == runners_.end()) return reply_error(rid, "not_found", "no such context");
      Runner& r = *it->second;
      if (r.pid > 0) ::kill(-r.pid, SIGKILL);
      if (r.busy) {
        drain_runner(r);
        flush_truncation(r.run);
        send({{"op", "end"},
              {"rid", r.run.rid},
              {"runner_exit", {{"signal", SIGKILL}}},
              {"stopped", true},
              {"restarted", op == "ctx_restart"}});
      }
      auto old = std::move(it->second);
      runners_.erase(it);
      if (old->pid > 0) orphans_.insert(old->pid);
      if (op == "ctx_stop") return reply_ok(rid);
      auto r2 = std::make_unique<Runner>();
      r2->id = old->id;
      r2->language = old->language;
      r2->cwd = old->cwd;
      r2->env = old->env;
      r2->start_rid = rid;
      std::string why;
      if (!start_runner(*r2, why)) return reply_error(rid, "internal", why);
      runners_[r2->id] = std::move(r2);
      return;
    }
    if (op == "exec") {
      auto it = runners_.find(msg.value("ctx", ""));
      if (it == runners_.end()) return reply_error(rid, "not_found", "no such context");
      Runner& r = *it->second;
      if (r.failed) {
        // It died while starting (say, the sandbox was out of memory then):
        // try once more for this execution before giving up on it.
        std::string why;
        r.failed = false;
        if (!start_runner(r, why)) {
          r.failed = true;
          return reply_error(rid, "internal", "the context's runner failed to start: " + why);
        }
      }
      if (r.busy) return reply_error(rid, "conflict", "the context is running another execution");
      r.busy = true;
      r.run = OutputBudget{};
      r.run.rid = rid;
      r.run.cap = msg.value("output_cap", std::uint64_t{1} << 20);
      r.timed_out = false;
      r.timeout_s = msg.value("timeout_ms", 0) / 1000;
      if (r.ready)
        dispatch_exec(r, msg);
      else
        r.pending = msg;
      return;
    }
    if (op == "interrupt") {
      const std::uint64_t target = msg.value("target", std::uint64_t{0});
      for (auto& [id, r] : runners_) {
        if (r->busy && r->run.rid == target && !r->kill_deadline) {
          ::kill(r->pid, SIGINT);
          r->kill_deadline = Clock::now() + kInterruptGrace;
        }
      }
      for (auto& [pid, c] : commands_) {
        if (c->running && !c->background && c->run.rid == target) ::kill(-c->pid, SIGKILL);
      }
      return;
    }
    if (op == "cmd") return start_command(msg, frame.data);
    if (op == "cmd_list") {
      json list = json::array();
      for (auto& [pid, c] : commands_)
        if (c->background) list.push_back(command_json(*c, false));
      return reply_ok(rid, {{"commands", list}});
    }
    if (op == "cmd_get" || op == "cmd_kill") {
      auto it = commands_.find(msg.value("pid", -1));
      if (it == commands_.end() || !it->second->background) {
        return reply_error(rid, "not_found", "no background command with that pid");
      }
      if (op == "cmd_kill") {
        if (it->second->running) ::kill(-it->second->pid, SIGKILL);
        return reply_ok(rid);
      }
      drain_command(*it->second);
      return reply_ok(rid, {{"command", command_json(*it->second, true)}});
    }
    const std::string path = msg.value("path", "");
    if (op == "fs_list") {
      json entries;
      auto e = list_dir(path, entries);
      if (!e.code.empty()) return reply_error(rid, e.code, e.message);
      return reply_ok(rid, {{"entries", entries}});
    }
    if (op == "fs_read") {
      std::string data;
      auto e = read_file(path, msg.value("cap", kFileCap), data);
      if (!e.code.empty()) return reply_error(rid, e.code, e.message);
      return reply_ok(rid, {{"size", data.size()}}, data);
    }
    if (op == "fs_write") {
      std::uint64_t size = 0;
      auto e = write_file(path, frame.data, size);
      if (!e.code.empty()) return reply_error(rid, e.code, e.message);
      return reply_ok(rid, {{"path", path}, {"size", size}});
    }
    if (op == "fs_delete") {
      auto e = remove_path(path);
      if (!e.code.empty()) return reply_error(rid, e.code, e.message);
      return reply_ok(rid);
    }
    if (op == "fs_mkdir") {
      auto e = make_dirs(path);
      if (!e.code.empty()) return reply_error(rid, e.code, e.message);
      return reply_ok(rid, {{"path", path}});
    }
    reply_error(rid, "bad_request", "unknown op: " + op);
  }

  // ---- the loop ----
  void reap() {
    signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
    }
    while (true) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (orphans_.erase(pid)) continue;
      for (auto& [id, r] : runners_) {
        if (r->pid == pid) {
          on_runner_exit(*r, status);
          break;
        }
      }
      auto it = commands_.find(pid);
      if (it != commands_.end()) {
        Command& c = *it->second;
        c.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        if (c.timed_out) c.exit_code = 124;
        finish_command(c);
      }
    }
    prune_commands();
  }

  void check_deadlines() {
    const auto now = Clock::now();
    for (auto& [id, r] : runners_) {
      if (r->busy && r->deadline && now >= *r->deadline && !r->kill_deadline) {
        r->timed_out = true;
        ::kill(r->pid, SIGINT);
        r->kill_deadline = now + kInterruptGrace;
      } else if (r->kill_deadline && now >= *r->kill_deadline) {
        ::kill(-r->pid, SIGKILL);
        r->kill_deadline.reset();
        r->deadline.reset();
      }
    }
    for (auto& [pid, c] : commands_) {
      if (c->running && c->deadline && now >= *c->deadline) {
        c->timed_out = true;
        ::kill(-c->pid, SIGKILL);
        c->deadline.reset();
      }
    }
  }

  int poll_timeout_ms() {
    std::optional<Clock::time_point> next;
    auto consider = [&](const std::optional<Clock::time_point>& t) {
      if (t && (!next || *t < *next)) next = t;
    };
    for (auto& [id, r] : runners_) {
      consider(r->deadline);
      consider(r->kill_deadline);
    }
    for (auto& [pid, c] : commands_) consider(c->deadline);
    if (!next) return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
    return ms < 0 ? 0 : static_cast<int>(ms) + 1;
  }

  enum class Src { Control, Signal, RunnerCtl, RunnerOut, RunnerErr, CmdOut, CmdErr };
  struct Watch {
    Src src;
    std::string ctx;
    pid_t pid;
  };

  void loop_once() {
    std::vector<pollfd> fds;
    std::vector<Watch> watches;
    auto add = [&](int fd, Watch w) {
      if (fd < 0) return;
      fds.push_back({fd, POLLIN, 0});
      watches.push_back(std::move(w));
    };
    add(control_, {Src::Control, "", 0});
    add(sigfd_.get(), {Src::Signal, "", 0});
    for (auto& [id, r] : runners_) {
      add(r->ctl.get(), {Src::RunnerCtl, id, 0});
      add(r->out.fd.get(), {Src::RunnerOut, id, 0});
      add(r->err.fd.get(), {Src::RunnerErr, id, 0});
    }
    for (auto& [pid, c] : commands_) {
      add(c->out.fd.get(), {Src::CmdOut, "", pid});
      add(c->err.fd.get(), {Src::CmdErr, "", pid});
    }
    int n = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      done_ = true;
      return;
    }
    for (std::size_t i = 0; i < fds.size() && !done_; ++i) {
      if (fds[i].revents == 0) continue;
      const Watch& w = watches[i];
      switch (w.src) {
        case Src::Control:
          read_control();
          break;
        case Src::Signal:
          reap();
          break;
        case Src::RunnerCtl: {
          auto it = runners_.find(w.ctx);
          if (it != runners_.end() && it->second->ctl.get() == fds[i].fd)
            read_runner_ctl(*it->second);
          break;
        }
        case Src::RunnerOut:
        case Src::RunnerErr: {
          auto it = runners_.find(w.ctx);
          if (it == runners_.end()) break;
          Runner& r = *it->second;
          Pipe& p = w.src == Src::RunnerOut ? r.out : r.err;
          if (p.fd.get() != fds[i].fd) break;
          std::string text;
          read_pipe(p, text);
          if (r.busy) emit_output(r.run, w.src == Src::RunnerOut ? 0 : 1, text);
          break;
        }
        case Src::CmdOut:
        case Src::CmdErr: {
          auto it = commands_.find(w.pid);
          if (it != commands_.end()) drain_command(*it->second);
          break;
        }
      }
    }
    check_deadlines();
  }

  void read_control() {
    char buf[65536];
    ssize_t n = ::read(control_, buf, sizeof buf);
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
      try {
        handle(**frame);
      } catch (const std::exception& e) {
        reply_error((*frame)->msg.value("rid", std::uint64_t{0}), "bad_request",
                    std::string("malformed request: ") + e.what());
      }
    }
  }

  void read_runner_ctl(Runner& r) {
    char buf[65536];
    ssize_t n = ::recv(r.ctl.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      r.ctl.reset();  // the exit is handled when SIGCHLD arrives
      return;
    }
    if (n < 0) return;
    r.ctl_buf.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    while (true) {
      auto nl = r.ctl_buf.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = r.ctl_buf.substr(start, nl - start);
      start = nl + 1;
      runner_line(r, line);
      if (!r.ctl.valid()) break;
    }
    r.ctl_buf.erase(0, start);
  }

  int control_;
  UniqueFd sigfd_;
  bool done_ = false;
  protocol::FrameDecoder decoder_;
  std::map<std::string, std::unique_ptr<Runner>> runners_;
  std::map<pid_t, std::unique_ptr<Command>> commands_;
  std::set<pid_t> orphans_;
};

}  // namespace

int run_agent(int control_fd) { return Agent(control_fd).run(); }

}  // namespace kiln::agent
