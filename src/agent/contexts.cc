#include "agent/contexts.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "agent/environment.h"
#include "common/languages.h"

namespace kiln::agent {

using nlohmann::json;

struct Contexts::Runner {
  std::string id, language, cwd;
  protocol::StringMap env;
  std::vector<std::string> preload;  // for the first start only
  pid_t pid = -1;
  UniqueFd ctl;
  LineBuffer ctl_lines{kMaxRunnerLine};
  Pipe out, err;
  bool ready = false;
  bool failed = false;                       // died before ready; retried on the next execution
  std::uint64_t start_rid = 0;               // a StartContext waiting for ready
  std::optional<protocol::Execute> pending;  // arrived before ready
  std::uint64_t pending_rid = 0;
  // The execution running now.
  std::optional<RunOutput> run;
  std::optional<Clock::time_point> deadline, kill_deadline;
  bool timed_out = false;
};

std::vector<std::string> runner_argv(const std::string& language) {
  const Language* l = find_language(language);
  if (l == nullptr) return {};
  auto argv = l->runner_argv;
  // make setup builds the snapshot; without it the runner loads the same
  // code from node_modules, only slower.
  if (!l->startup_snapshot.empty() && ::access(l->startup_snapshot.c_str(), R_OK) == 0)
    argv.insert(argv.begin() + 1, {"--snapshot-blob", l->startup_snapshot});
  return argv;
}

Contexts::Contexts(ProcOps& ops, EventSink& sink) : ops_(ops), sink_(sink) {}
Contexts::~Contexts() = default;

pid_t Contexts::runner_pid(const std::string& ctx) const {
  auto it = runners_.find(ctx);
  return it == runners_.end() ? -1 : it->second->pid;
}

bool Contexts::start_runner(Runner& r, std::string& why) {
  auto argv = runner_argv(r.language);
  if (argv.empty()) {
    why = "unsupported language: " + r.language;
    return false;
  }
  int sv[2];
  {
    UserFsRights as_user;  // the runner's own end of the socket is the user's
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      why = std::string("socketpair: ") + std::strerror(errno);
      return false;
    }
  }
  UniqueFd mine(sv[0]), theirs(sv[1]);
  protocol::StringMap extra = {{"MPLBACKEND", "Agg"},
                               {"MPLCONFIGDIR", "/tmp/.kiln-matplotlib"},
                               {"PYTHONUNBUFFERED", "1"},
                               {"PYTHONDONTWRITEBYTECODE", "1"}};
  // The runner takes this out of its environment before any user code
  // runs. A restarted runner starts bare: the user is waiting for it.
  if (!r.preload.empty()) {
    std::string list;
    for (const auto& m : std::exchange(r.preload, {})) list += (list.empty() ? "" : ",") + m;
    extra["KILN_PRELOAD"] = list;
  }
  ChildSpec spec{std::move(argv), child_environment(extra, r.env), r.cwd, -1, theirs.get()};
  auto child = ops_.spawn(spec);
  if (!child) {
    why = child.status().message();
    return false;
  }
  r.pid = child->pid;
  r.out = Pipe{std::move(child->out), {}};
  r.err = Pipe{std::move(child->err), {}};
  r.ctl = std::move(mine);
  r.ctl_lines.clear();
  r.ready = false;
  return true;
}

void Contexts::start(std::uint64_t rid, const protocol::StartContext& req) {
  if (runners_.count(req.ctx)) {
    return sink_.send(
        rid, protocol::refusal(protocol::ReplyCode::kConflict, "context exists: " + req.ctx));
  }
  if (auto e = check_directory(req.cwd); !e.empty()) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kBadRequest, e));
  }
  auto r = std::make_unique<Runner>();
  r->id = req.ctx;
  r->language = req.language;
  r->cwd = req.cwd;
  r->env = req.env;
  r->preload = req.preload;
  r->start_rid = rid;
  std::string why;
  if (!start_runner(*r, why)) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kBadRequest, why));
  }
  runners_[r->id] = std::move(r);
}

void Contexts::stop(std::uint64_t rid, const protocol::StopContext& req) {
  auto it = runners_.find(req.ctx);
  if (it == runners_.end()) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kNotFound, "no such context"));
  }
  Runner& r = *it->second;
  if (r.pid > 0) ops_.kill(-r.pid, SIGKILL);
  if (r.start_rid) {
    sink_.send(r.start_rid, protocol::refusal(protocol::ReplyCode::kConflict,
                                              "the context was stopped while it started"));
  }
  if (r.pending) {
    protocol::End end;
    end.stopped = true;
    end.restarted = req.restart;
    sink_.send(r.pending_rid, end);
  }
  if (r.run) {
    drain(r);
    protocol::End end;
    end.runner_exit = protocol::ProcessExit{std::nullopt, SIGKILL};
    end.stopped = true;
    end.restarted = req.restart;
    finish_run(r, end);
  }
  auto old = std::move(it->second);
  runners_.erase(it);
  // Its exit is reaped by the agent (unknown pids are simply reaped).
  if (!req.restart) return sink_.send(rid, protocol::ok_reply());
  protocol::StartContext again{old->id, old->language, old->cwd, old->env, {}};
  start(rid, again);
}

void Contexts::execute(std::uint64_t rid, protocol::Execute req) {
  auto it = runners_.find(req.ctx);
  if (it == runners_.end()) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kNotFound, "no such context"));
  }
  Runner& r = *it->second;
  if (r.run || r.pending) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kConflict,
                                             "the context is running another execution"));
  }
  if (r.failed) {
    // It died while starting (say, the sandbox was out of memory then):
    // try once more for this execution before giving up on it.
    std::string why;
    r.failed = false;
    if (!start_runner(r, why)) {
      r.failed = true;
      return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kInternal,
                                               "the context's runner failed to start: " + why));
    }
  }
  if (!r.ready) {
    r.pending = std::move(req);
    r.pending_rid = rid;
    return;
  }
  r.run.emplace(sink_, rid, req.output_cap, req.result_cap);
  dispatch(r, std::move(req));
}

void Contexts::dispatch(Runner& r, protocol::Execute exec) {
  r.timed_out = false;
  r.deadline.reset();
  r.kill_deadline.reset();
  const std::string line = encode_execute_line(exec.code, exec.env);
  if (!write_all(r.ctl.get(), line.data(), line.size())) {
    ops_.kill(-r.pid, SIGKILL);  // the exit path reports it
    return;
  }
  if (exec.timeout_ms > 0) r.deadline = ops_.now() + std::chrono::milliseconds(exec.timeout_ms);
}

void Contexts::interrupt(std::uint64_t target) {
  for (auto& [id, r] : runners_) {
    if (r->run && r->run->rid() == target && !r->kill_deadline) {
      ops_.kill(r->pid, SIGINT);
      r->kill_deadline = ops_.now() + kInterruptGrace;
    }
  }
}

void Contexts::drain(Runner& r) {
  std::string text;
  for (auto stream : {protocol::Stream::kStdout, protocol::Stream::kStderr}) {
    Pipe& p = stream == protocol::Stream::kStdout ? r.out : r.err;
    if (!p.fd.valid()) continue;
    read_pipe(p, text);
    if (r.run) r.run->output(stream, text);
  }
}

void Contexts::finish_run(Runner& r, protocol::End end) {
  if (!r.run) return;
  r.run->end(end);
  r.run.reset();
  r.deadline.reset();
  r.kill_deadline.reset();
  r.timed_out = false;
}

void Contexts::on_line(Runner& r, std::string_view line) {
  RunnerMessage msg = decode_runner_line(line);
  if (std::holds_alternative<RunnerReady>(msg)) {
    r.ready = true;
    if (r.start_rid) {
      sink_.send(std::exchange(r.start_rid, 0), protocol::ok_reply({{"pid", r.pid}}));
    }
    if (r.pending) {
      protocol::Execute exec = std::move(*r.pending);
      r.pending.reset();
      r.run.emplace(sink_, r.pending_rid, exec.output_cap, exec.result_cap);
      dispatch(r, std::move(exec));
    }
    return;
  }
  if (!r.run) return;  // nothing to report to: not running
  // Output written before the event belongs before it.
  drain(r);
  if (auto* res = std::get_if<RunnerResult>(&msg)) {
    r.run->result(std::move(res->bundle), line.size());
  } else if (auto* err = std::get_if<RunnerError>(&msg)) {
    r.run->error(std::move(err->error));
  } else if (auto* done = std::get_if<RunnerDone>(&msg)) {
    protocol::End end;
    end.execution_count = done->execution_count;
    end.timed_out = r.timed_out;
    finish_run(r, end);
  } else if (auto* bad = std::get_if<RunnerRefused>(&msg)) {
    r.run->refused(line.size(), bad->why);
  }
}

void Contexts::read_control(const std::string& ctx) {
  auto it = runners_.find(ctx);
  if (it == runners_.end()) return;
  Runner& r = *it->second;
  char buf[65536];
  const ssize_t n = ::recv(r.ctl.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    r.ctl.reset();  // the exit is handled when SIGCHLD arrives
    return;
  }
  if (n < 0) return;
  r.ctl_lines.feed(
      std::string_view(buf, static_cast<std::size_t>(n)),
      [&](std::string_view line) { on_line(r, line); },
      [&](std::size_t bytes) {
        if (r.run) {
          r.run->refused(bytes,
                         "a runner message over " + std::to_string(kMaxRunnerLine) + " bytes");
        }
      });
}

void Contexts::read_output(const std::string& ctx, protocol::Stream stream) {
  auto it = runners_.find(ctx);
  if (it == runners_.end()) return;
  Runner& r = *it->second;
  Pipe& p = stream == protocol::Stream::kStdout ? r.out : r.err;
  if (!p.fd.valid()) return;
  std::string text;
  read_pipe(p, text);
  if (r.run) r.run->output(stream, text);
}

bool Contexts::on_exit(pid_t pid, int status) {
  Runner* found = nullptr;
  for (auto& [id, r] : runners_)
    if (r->pid == pid) found = r.get();
  if (found == nullptr) return false;
  Runner& r = *found;
  drain(r);
  r.ctl.reset();
  r.out.fd.reset();
  r.err.fd.reset();
  r.pid = -1;
  const bool was_ready = r.ready;
  r.ready = false;
  protocol::ProcessExit exit_info;
  if (WIFSIGNALED(status))
    exit_info.signal = WTERMSIG(status);
  else
    exit_info.code = WEXITSTATUS(status);
  if (r.run) {
    protocol::End end;
    end.timed_out = r.timed_out;
    end.runner_exit = exit_info;
    end.restarted = true;
    finish_run(r, end);
  }
  if (!was_ready) {
    // Died before saying ready: do not loop restarting a broken runner.
    r.failed = true;
    const std::string how = exit_info.signal ? "signal " + std::to_string(*exit_info.signal)
                                             : "status " + std::to_string(*exit_info.code);
    if (r.start_rid) {
      sink_.send(
          std::exchange(r.start_rid, 0),
          protocol::refusal(protocol::ReplyCode::kInternal,
                            "the " + r.language + " runner exited during start-up (" + how + ")"));
    }
    if (r.pending) {
      r.pending.reset();
      sink_.send(r.pending_rid,
                 protocol::refusal(protocol::ReplyCode::kInternal,
                                   "the context's runner failed to start (" + how + ")"));
    }
    return true;
  }
  std::string why;
  if (!start_runner(r, why)) r.failed = true;
  return true;
}

void Contexts::check_deadlines() {
  const auto now = ops_.now();
  for (auto& [id, r] : runners_) {
    if (r->run && r->deadline && now >= *r->deadline && !r->kill_deadline) {
      r->timed_out = true;
      ops_.kill(r->pid, SIGINT);
      r->kill_deadline = now + kInterruptGrace;
    } else if (r->kill_deadline && now >= *r->kill_deadline) {
      ops_.kill(-r->pid, SIGKILL);
      r->kill_deadline.reset();
      r->deadline.reset();
    }
  }
}

std::optional<Clock::time_point> Contexts::next_deadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [id, r] : runners_) {
    for (const auto& t : {r->deadline, r->kill_deadline}) {
      if (t && (!next || *t < *next)) next = t;
    }
  }
  return next;
}

void Contexts::add_watches(Watches& w) {
  for (auto& [id, r] : runners_) {
    const std::string ctx = id;
    if (r->ctl.valid()) w.push_back({r->ctl.get(), [this, ctx] { read_control(ctx); }});
    if (r->out.fd.valid())
      w.push_back({r->out.fd.get(), [this, ctx] { read_output(ctx, protocol::Stream::kStdout); }});
    if (r->err.fd.valid())
      w.push_back({r->err.fd.get(), [this, ctx] { read_output(ctx, protocol::Stream::kStderr); }});
  }
}

}  // namespace kiln::agent
