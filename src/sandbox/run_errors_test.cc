#include "sandbox/run_errors.h"

#include <gtest/gtest.h>

namespace kiln::sandbox {
namespace {

using protocol::End;
using protocol::ProcessExit;

std::string value_of(const nlohmann::json& e) { return e["value"].get<std::string>(); }

TEST(RunErrors, NormalEndIsNoError) {
  End end;
  end.execution_count = 3;
  EXPECT_TRUE(error_for_run_end({end, false, 60000, 512}).is_null());
}

TEST(RunErrors, InterruptedTimeoutKeepsRunnersOwnError) {
  End end;
  end.timed_out = true;  // the runner survived the interrupt and reported it
  EXPECT_TRUE(error_for_run_end({end, false, 5000, 512}).is_null());
}

TEST(RunErrors, KilledAfterTimeoutSaysStateLost) {
  End end;
  end.timed_out = true;
  end.runner_exit = ProcessExit{std::nullopt, 9};
  auto e = error_for_run_end({end, false, 5000, 512});
  EXPECT_EQ(e["name"], "TimeoutError");
  EXPECT_NE(value_of(e).find("5 s"), std::string::npos);
  EXPECT_NE(value_of(e).find("restarted"), std::string::npos);
}

TEST(RunErrors, OomWinsOverTimeout) {
  End end;
  end.timed_out = true;
  end.runner_exit = ProcessExit{std::nullopt, 9};
  auto e = error_for_run_end({end, true, 5000, 128});
  EXPECT_EQ(e["name"], "OutOfMemoryError");
  EXPECT_NE(value_of(e).find("128 MiB"), std::string::npos);
}

TEST(RunErrors, OtherDeathIsContextDied) {
  End end;
  end.runner_exit = ProcessExit{1, std::nullopt};
  auto e = error_for_run_end({end, false, 5000, 128});
  EXPECT_EQ(e["name"], "ContextDiedError");
  EXPECT_NE(value_of(e).find("status 1"), std::string::npos);
  EXPECT_TRUE(e.contains("line"));
}

TEST(RunErrors, StoppedContext) {
  End end;
  end.stopped = true;
  end.runner_exit = ProcessExit{std::nullopt, 9};
  EXPECT_EQ(error_for_run_end({end, true, 5000, 128})["name"], "ContextStoppedError");
}

TEST(RunErrors, FractionalTimeoutIsNotRoundedDown) {
  EXPECT_EQ(format_seconds(500), "0.5 s");
  EXPECT_EQ(format_seconds(2250), "2.25 s");
  EXPECT_EQ(format_seconds(60000), "60 s");
  protocol::ErrorEvent ki{"KeyboardInterrupt", "", "tb", 3};
  auto e = error_from_runner(ki, true, 500);
  EXPECT_EQ(e["name"], "TimeoutError");
  EXPECT_NE(value_of(e).find("0.5 s"), std::string::npos);
  EXPECT_NE(value_of(e).find("kept its state"), std::string::npos);
  EXPECT_EQ(e["line"], 3);
}

TEST(RunErrors, KeyboardInterruptWithoutTimeoutIsTheUsersOwn) {
  protocol::ErrorEvent ki{"KeyboardInterrupt", "", "", std::nullopt};
  EXPECT_EQ(error_from_runner(ki, false, 500)["name"], "KeyboardInterrupt");
}

}  // namespace
}  // namespace kiln::sandbox
