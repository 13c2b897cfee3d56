// Commands: shell commands (/bin/sh -c) started for the API, in the
// foreground (a run: output relayed, End with the exit code) or in the
// background (the last 64 KiB of each stream kept, for GetCommand).
//
// A foreground command's timeout or interrupt kills its process group
// (exit code 124 after a timeout). At most kMaxFinishedCommands finished
// background commands are remembered.
//
// Thread-safety: single-threaded.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>

#include "agent/event_sink.h"
#include "agent/proc_ops.h"
#include "agent/run_output.h"
#include "agent/watch.h"

namespace kiln::agent {

inline constexpr std::size_t kRecentOutput = 64 * 1024;
inline constexpr std::size_t kMaxFinishedCommands = 64;

class Commands {
 public:
  Commands(ProcOps& ops, EventSink& sink);
  ~Commands();

  void start(std::uint64_t rid, protocol::RunCommand req);
  void list(std::uint64_t rid);
  void get(std::uint64_t rid, std::int64_t pid);
  void kill(std::uint64_t rid, std::int64_t pid);
  void interrupt(std::uint64_t target);

  bool on_exit(pid_t pid, int status);
  void check_deadlines();
  std::optional<Clock::time_point> next_deadline() const;
  void add_watches(Watches& w);

 private:
  struct Command;

  void read_output(pid_t pid);
  void drain(Command& c);
  void prune();
  protocol::CommandInfo info(const Command& c, bool with_output) const;

  ProcOps& ops_;
  EventSink& sink_;
  std::map<pid_t, std::unique_ptr<Command>> commands_;
};

}  // namespace kiln::agent
