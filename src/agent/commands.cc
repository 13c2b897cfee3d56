#include "agent/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/environment.h"

namespace kiln::agent {

struct Commands::Command {
  pid_t pid = -1;
  std::string cmd;
  bool background = false;
  std::optional<RunOutput> run;  // foreground only
  Pipe out, err;
  std::string recent[2];  // background only
  bool running = true;
  int exit_code = -1;
  bool timed_out = false;
  std::optional<Clock::time_point> deadline;
};

Commands::Commands(ProcOps& ops, EventSink& sink) : ops_(ops), sink_(sink) {}
Commands::~Commands() = default;

void Commands::start(std::uint64_t rid, protocol::RunCommand req) {
  if (auto e = check_directory(req.cwd); !e.empty()) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kBadRequest, e));
  }
  auto c = std::make_unique<Command>();
  c->cmd = req.cmd;
  c->background = req.background;
  UniqueFd stdin_read, stdin_write;
  if (!req.stdin_data.empty()) {
    int in[2];
    UserFsRights as_user;  // so the code may reopen /dev/stdin
    if (::pipe2(in, O_CLOEXEC) != 0) {
      return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kInternal, "pipe2 failed"));
    }
    stdin_read.reset(in[0]);
    stdin_write.reset(in[1]);
    // Room for all of it (stdin is capped at 1 MiB), so writing never blocks.
    ::fcntl(stdin_write.get(), F_SETPIPE_SZ, 1 << 20);
  }
  ChildSpec spec{
      {"/bin/sh", "-c", req.cmd}, child_environment({}, req.env), req.cwd, stdin_read.get(), -1};
  auto child = ops_.spawn(spec);
  stdin_read.reset();
  if (!child) {
    return sink_.send(rid,
                      protocol::refusal(protocol::ReplyCode::kInternal, child.status().message()));
  }
  if (stdin_write.valid()) {
    set_nonblocking(stdin_write.get());
    (void)!::write(stdin_write.get(), req.stdin_data.data(), req.stdin_data.size());
    stdin_write.reset();
  }
  c->pid = child->pid;
  c->out = Pipe{std::move(child->out), {}};
  c->err = Pipe{std::move(child->err), {}};
  if (req.timeout_ms > 0) c->deadline = ops_.now() + std::chrono::milliseconds(req.timeout_ms);
  if (c->background) {
    sink_.send(rid, protocol::ok_reply({{"pid", c->pid}}));
  } else {
    c->run.emplace(sink_, rid, req.output_cap, 0);
  }
  commands_[c->pid] = std::move(c);
}

protocol::CommandInfo Commands::info(const Command& c, bool with_output) const {
  protocol::CommandInfo i;
  i.pid = c.pid;
  i.cmd = c.cmd;
  i.running = c.running;
  if (!c.running) i.exit_code = c.exit_code;
  if (with_output) {
    i.stdout_text = c.recent[0];
    i.stderr_text = c.recent[1];
  }
  return i;
}

void Commands::list(std::uint64_t rid) {
  nlohmann::json list = nlohmann::json::array();
  for (auto& [pid, c] : commands_)
    if (c->background) list.push_back(protocol::command_json(info(*c, false)));
  sink_.send(rid, protocol::ok_reply({{"commands", std::move(list)}}));
}

void Commands::get(std::uint64_t rid, std::int64_t pid) {
  auto it = commands_.find(static_cast<pid_t>(pid));
  if (it == commands_.end() || !it->second->background) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kNotFound,
                                             "no background command with that pid"));
  }
  drain(*it->second);
  sink_.send(rid,
             protocol::ok_reply({{"command", protocol::command_json(info(*it->second, true))}}));
}

void Commands::kill(std::uint64_t rid, std::int64_t pid) {
  auto it = commands_.find(static_cast<pid_t>(pid));
  if (it == commands_.end() || !it->second->background) {
    return sink_.send(rid, protocol::refusal(protocol::ReplyCode::kNotFound,
                                             "no background command with that pid"));
  }
  if (it->second->running) ops_.kill(-it->second->pid, SIGKILL);
  sink_.send(rid, protocol::ok_reply());
}

void Commands::interrupt(std::uint64_t target) {
  for (auto& [pid, c] : commands_) {
    if (c->running && c->run && c->run->rid() == target) ops_.kill(-c->pid, SIGKILL);
  }
}

void Commands::drain(Command& c) {
  std::string text;
  for (int s = 0; s < 2; ++s) {
    Pipe& p = s == 0 ? c.out : c.err;
    if (!p.fd.valid()) continue;
    read_pipe(p, text);
    if (c.background) {
      c.recent[s] += text;
      if (c.recent[s].size() > kRecentOutput)
        c.recent[s].erase(0, c.recent[s].size() - kRecentOutput);
    } else if (c.run) {
      c.run->output(s == 0 ? protocol::Stream::kStdout : protocol::Stream::kStderr, text);
    }
  }
}

void Commands::read_output(pid_t pid) {
  auto it = commands_.find(pid);
  if (it != commands_.end()) drain(*it->second);
}

bool Commands::on_exit(pid_t pid, int status) {
  auto it = commands_.find(pid);
  if (it == commands_.end()) return false;
  Command& c = *it->second;
  c.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  if (c.timed_out) c.exit_code = 124;
  drain(c);
  c.out.fd.reset();
  c.err.fd.reset();
  c.running = false;
  c.deadline.reset();
  if (c.run) {
    protocol::End end;
    end.exit_code = c.exit_code;
    end.timed_out = c.timed_out;
    c.run->end(end);
    c.run.reset();
  }
  prune();
  return true;
}

void Commands::prune() {
  std::size_t finished = 0;
  for (auto it = commands_.begin(); it != commands_.end();) {
    // Foreground commands are forgotten once reported.
    if (!it->second->running && !it->second->background) {
      it = commands_.erase(it);
    } else {
      finished += it->second->running ? 0 : 1;
      ++it;
    }
  }
  for (auto it = commands_.begin(); it != commands_.end() && finished > kMaxFinishedCommands;) {
    if (!it->second->running) {
      it = commands_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

void Commands::check_deadlines() {
  const auto now = ops_.now();
  for (auto& [pid, c] : commands_) {
    if (c->running && c->deadline && now >= *c->deadline) {
      c->timed_out = true;
      ops_.kill(-c->pid, SIGKILL);
      c->deadline.reset();
    }
  }
}

std::optional<Clock::time_point> Commands::next_deadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [pid, c] : commands_)
    if (c->deadline && (!next || *c->deadline < *next)) next = c->deadline;
  return next;
}

void Commands::add_watches(Watches& w) {
  for (auto& [pid, c] : commands_) {
    const pid_t p = pid;
    if (c->out.fd.valid()) w.push_back({c->out.fd.get(), [this, p] { read_output(p); }});
    if (c->err.fd.valid()) w.push_back({c->err.fd.get(), [this, p] { read_output(p); }});
  }
}

}  // namespace kiln::agent
