// Contexts: the code contexts of a sandbox, one language runner process
// each, and the executions running in them.
//
// A context starts its runner and answers its StartContext once the runner
// says ready. One execution at a time per context (a second is refused as
// a conflict). A run's timeout sends SIGINT to the runner (the code sees
// KeyboardInterrupt and the context keeps its state); if the runner has
// not finished kInterruptGrace later, its process group gets SIGKILL, the
// run ends with runner_exit, and a fresh runner takes its place (state
// lost). A runner that dies before it is ready fails its StartContext and
// is not restarted in a loop; the next execution tries once more.
//
// Thread-safety: single-threaded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/event_sink.h"
#include "agent/proc_ops.h"
#include "agent/run_output.h"
#include "agent/runner_lines.h"
#include "agent/watch.h"

namespace kiln::agent {

inline constexpr auto kInterruptGrace = std::chrono::seconds(2);

// The program that runs `language`'s runner; empty if there is none.
std::vector<std::string> runner_argv(const std::string& language);

class Contexts {
 public:
  Contexts(ProcOps& ops, EventSink& sink);
  ~Contexts();

  void start(std::uint64_t rid, const protocol::StartContext& req);
  void stop(std::uint64_t rid, const protocol::StopContext& req);
  void execute(std::uint64_t rid, protocol::Execute req);
  // Interrupts the execution with request id `target`, if running.
  void interrupt(std::uint64_t target);

  // A child exited; true if it was one of the runners.
  bool on_exit(pid_t pid, int status);
  void check_deadlines();
  std::optional<Clock::time_point> next_deadline() const;
  void add_watches(Watches& w);

  // For tests: the runner pid of a context (-1 if none).
  pid_t runner_pid(const std::string& ctx) const;

 private:
  struct Runner;

  bool start_runner(Runner& r, std::string& why);
  void dispatch(Runner& r, protocol::Execute exec);
  void on_line(Runner& r, std::string_view line);
  void read_control(const std::string& ctx);
  void read_output(const std::string& ctx, protocol::Stream stream);
  void drain(Runner& r);
  void finish_run(Runner& r, protocol::End end);

  ProcOps& ops_;
  EventSink& sink_;
  std::map<std::string, std::unique_ptr<Runner>> runners_;
};

}  // namespace kiln::agent
