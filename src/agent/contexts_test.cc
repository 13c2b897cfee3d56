#include "agent/contexts.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace kiln::agent {
namespace {

using protocol::Event;

// A fake ProcOps: "children" are pipes and a socket the test holds; signals
// are recorded; the clock moves only when the test says so.
struct FakeProcs : ProcOps {
  struct Spawned {
    pid_t pid;
    ChildSpec spec;
    UniqueFd out_w, err_w, control;  // the child's ends
  };
  std::vector<Spawned> spawned;
  std::vector<std::pair<pid_t, int>> signals;
  Clock::time_point clock{};
  pid_t next_pid = 100;

  Result<Child> spawn(const ChildSpec& spec) override {
    int o[2], e[2];
    if (::pipe2(o, O_CLOEXEC | O_NONBLOCK) != 0 || ::pipe2(e, O_CLOEXEC | O_NONBLOCK) != 0)
      return Status::from_errno("pipe2");
    Spawned s{next_pid++, spec, UniqueFd(o[1]), UniqueFd(e[1]),
              UniqueFd(spec.extra_fd >= 0 ? ::dup(spec.extra_fd) : -1)};
    spawned.push_back(std::move(s));
    return Child{spawned.back().pid, UniqueFd(o[0]), UniqueFd(e[0])};
  }
  int kill(pid_t pid, int sig) override {
    signals.emplace_back(pid, sig);
    return 0;
  }
  Clock::time_point now() override { return clock; }

  Spawned& last() { return spawned.back(); }
  void runner_says(const std::string& line) {
    const std::string l = line + "\n";
    ASSERT_EQ(::write(last().control.get(), l.data(), l.size()), static_cast<ssize_t>(l.size()));
  }
  std::string runner_reads() {
    char buf[4096];
    const ssize_t n = ::read(last().control.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
};

struct Recorder : EventSink {
  std::vector<std::pair<std::uint64_t, Event>> events;
  void send(std::uint64_t rid, Event e) override { events.emplace_back(rid, std::move(e)); }
  template <typename T>
  const T* last_of(std::uint64_t rid) const {
    const T* found = nullptr;
    for (const auto& [r, e] : events)
      if (r == rid)
        if (auto* x = std::get_if<T>(&e)) found = x;
    return found;
  }
};

class ContextsTest : public ::testing::Test {
 protected:
  // Runs every watch whose fd is readable now, as the agent's loop would.
  void pump() {
    for (int round = 0; round < 4; ++round) {
      Watches w;
      contexts.add_watches(w);
      std::vector<pollfd> fds;
      for (const auto& x : w) fds.push_back({x.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 0) <= 0) return;
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents) w[i].ready();
    }
  }
  void start_ready(const std::string& ctx = "c1") {
    contexts.start(1, {ctx, "python", "/tmp", {}});
    procs.runner_says(R"({"type":"ready"})");
    pump();
    ASSERT_NE(sink.last_of<protocol::Reply>(1), nullptr);
    ASSERT_TRUE(sink.last_of<protocol::Reply>(1)->ok());
  }
  protocol::Execute exec(std::uint64_t timeout_ms = 0) {
    protocol::Execute e;
    e.ctx = "c1";
    e.code = "x";
    e.timeout_ms = timeout_ms;
    e.output_cap = 16;
    e.result_cap = 1000;
    return e;
  }

  FakeProcs procs;
  Recorder sink;
  Contexts contexts{procs, sink};
};

TEST_F(ContextsTest, StartsTheRunnerAsTheLanguageSaysAndRepliesWhenReady) {
  contexts.start(1, {"c1", "python", "/tmp", {{"K", "V"}}});
  EXPECT_EQ(sink.last_of<protocol::Reply>(1), nullptr);  // not ready yet
  ASSERT_EQ(procs.spawned.size(), 1u);
  EXPECT_EQ(procs.last().spec.argv[0], "/usr/bin/python3");
  EXPECT_NE(std::find(procs.last().spec.env.begin(), procs.last().spec.env.end(), "K=V"),
            procs.last().spec.env.end());
  procs.runner_says(R"({"type":"ready"})");
  pump();
  auto* reply = sink.last_of<protocol::Reply>(1);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->body["pid"], 100);
}

TEST_F(ContextsTest, UnknownLanguageAndBadCwdAreRefused) {
  contexts.start(1, {"c1", "cobol", "/tmp", {}});
  EXPECT_EQ(sink.last_of<protocol::Reply>(1)->code, protocol::ReplyCode::kBadRequest);
  contexts.start(2, {"c2", "python", "/nonexistent-dir", {}});
  EXPECT_EQ(sink.last_of<protocol::Reply>(2)->code, protocol::ReplyCode::kBadRequest);
  EXPECT_TRUE(procs.spawned.empty());
}

TEST_F(ContextsTest, ABusyContextRefusesASecondExecution) {
  start_ready();
  contexts.execute(2, exec());
  contexts.execute(3, exec());
  auto* refused = sink.last_of<protocol::Reply>(3);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->code, protocol::ReplyCode::kConflict);
  EXPECT_NE(procs.runner_reads().find("\"type\":\"execute\""), std::string::npos);
  procs.runner_says(R"({"type":"done","execution_count":1})");
  pump();
  ASSERT_NE(sink.last_of<protocol::End>(2), nullptr);
  contexts.execute(4, exec());  // free again
  EXPECT_EQ(sink.last_of<protocol::Reply>(4), nullptr);
}

TEST_F(ContextsTest, TimeoutInterruptsAndTheContextKeepsItsState) {
  start_ready();
  contexts.execute(2, exec(500));
  procs.clock += std::chrono::milliseconds(499);
  contexts.check_deadlines();
  EXPECT_TRUE(procs.signals.empty());  // 0.5 s means 0.5 s, not 0
  procs.clock += std::chrono::milliseconds(1);
  contexts.check_deadlines();
  ASSERT_EQ(procs.signals.size(), 1u);
  EXPECT_EQ(procs.signals[0], std::make_pair(100, SIGINT));
  procs.runner_says(R"({"type":"error","name":"KeyboardInterrupt","value":"","traceback":""})");
  procs.runner_says(R"({"type":"done","execution_count":1})");
  pump();
  auto* end = sink.last_of<protocol::End>(2);
  ASSERT_NE(end, nullptr);
  EXPECT_TRUE(end->timed_out);
  EXPECT_FALSE(end->runner_exit);
  EXPECT_EQ(sink.last_of<protocol::ErrorEvent>(2)->name, "KeyboardInterrupt");
  EXPECT_EQ(procs.spawned.size(), 1u);  // same runner: state kept
}

TEST_F(ContextsTest, TimeoutThenKillLosesStateAndRestartsTheRunner) {
  start_ready();
  contexts.execute(2, exec(1000));
  procs.clock += std::chrono::seconds(1);
  contexts.check_deadlines();  // SIGINT
  procs.clock += kInterruptGrace;
  contexts.check_deadlines();  // SIGKILL of the group
  ASSERT_EQ(procs.signals.size(), 2u);
  EXPECT_EQ(procs.signals[1], std::make_pair(-100, SIGKILL));
  EXPECT_TRUE(contexts.on_exit(100, SIGKILL));  // status: killed by signal 9
  auto* end = sink.last_of<protocol::End>(2);
  ASSERT_NE(end, nullptr);
  EXPECT_TRUE(end->timed_out);
  ASSERT_TRUE(end->runner_exit);
  EXPECT_EQ(end->runner_exit->signal, SIGKILL);
  EXPECT_TRUE(end->restarted);
  EXPECT_EQ(procs.spawned.size(), 2u);  // a fresh runner
  EXPECT_EQ(contexts.runner_pid("c1"), 101);
}

TEST_F(ContextsTest, PreloadReachesOnlyTheFirstRunnerOfAContext) {
  auto has = [&](const std::string& entry) {
    const auto& env = procs.last().spec.env;
    return std::find(env.begin(), env.end(), entry) != env.end();
  };
  contexts.start(1, {"c1", "python", "/tmp", {}, {"numpy", "matplotlib.pyplot"}});
  EXPECT_TRUE(has("KILN_PRELOAD=numpy,matplotlib.pyplot"));
  procs.runner_says(R"({"type":"ready"})");
  pump();
  // A runner killed mid-run restarts without it: a user waits for that one.
  contexts.execute(2, exec());
  ASSERT_TRUE(contexts.on_exit(100, SIGKILL));
  ASSERT_EQ(procs.spawned.size(), 2u);
  for (const auto& entry : procs.last().spec.env)
    EXPECT_NE(entry.rfind("KILN_PRELOAD=", 0), 0u) << entry;
  contexts.start(3, {"c2", "python", "/tmp", {}});
  for (const auto& entry : procs.last().spec.env)
    EXPECT_NE(entry.rfind("KILN_PRELOAD=", 0), 0u) << entry;
}

TEST_F(ContextsTest, OutputIsCappedWithANoticeBeforeTheEnd) {
  start_ready();
  contexts.execute(2, exec());
  const std::string big(100, 'x');
  ASSERT_EQ(::write(procs.last().out_w.get(), big.data(), big.size()), 100);
  pump();
  procs.runner_says(R"({"type":"done","execution_count":1})");
  pump();
  std::string out, notice;
  std::size_t end_at = 0, notice_at = 0;
  for (std::size_t i = 0; i < sink.events.size(); ++i) {
    if (auto* o = std::get_if<protocol::Output>(&sink.events[i].second)) {
      (o->notice ? notice : out) += o->text;
      if (o->notice) notice_at = i;
    }
    if (std::holds_alternative<protocol::End>(sink.events[i].second)) end_at = i;
  }
  EXPECT_EQ(out, std::string(16, 'x'));
  EXPECT_NE(notice.find("84 bytes dropped"), std::string::npos) << notice;
  EXPECT_LT(notice_at, end_at);
}

TEST_F(ContextsTest, ARunnerThatDiesBeforeReadyFailsItsStartOnceAndIsRetriedOnExecute) {
  contexts.start(1, {"c1", "python", "/tmp", {}});
  EXPECT_TRUE(contexts.on_exit(100, 1 << 8));  // exit status 1
  auto* reply = sink.last_of<protocol::Reply>(1);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->code, protocol::ReplyCode::kInternal);
  EXPECT_NE(reply->message.find("exited during start-up (status 1)"), std::string::npos);
  EXPECT_EQ(procs.spawned.size(), 1u);  // no restart loop
  contexts.execute(2, exec());          // tries once more
  EXPECT_EQ(procs.spawned.size(), 2u);
  procs.runner_says(R"({"type":"ready"})");
  pump();
  EXPECT_NE(procs.runner_reads().find("execute"), std::string::npos);
}

TEST_F(ContextsTest, StoppingARunningContextEndsItsRun) {
  start_ready();
  contexts.execute(2, exec());
  contexts.stop(3, {"c1", false});
  auto* end = sink.last_of<protocol::End>(2);
  ASSERT_NE(end, nullptr);
  EXPECT_TRUE(end->stopped);
  EXPECT_TRUE(sink.last_of<protocol::Reply>(3)->ok());
  EXPECT_EQ(procs.signals.back(), std::make_pair(-100, SIGKILL));
  EXPECT_FALSE(contexts.on_exit(100, SIGKILL));  // forgotten: the agent just reaps it
}

TEST_F(ContextsTest, HostileRunnerLinesBecomeAnErrorForTheRun) {
  start_ready();
  contexts.execute(2, exec());
  procs.runner_says("{\"type\":\"result\",\"json\":" + std::string(5000, '[') +
                    std::string(5000, ']') + "}");
  procs.runner_says(R"({"type":"done","execution_count":1})");
  pump();
  auto* err = sink.last_of<protocol::ErrorEvent>(2);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->name, "ResultError");
  EXPECT_NE(sink.last_of<protocol::End>(2), nullptr);
}

}  // namespace
}  // namespace kiln::agent
