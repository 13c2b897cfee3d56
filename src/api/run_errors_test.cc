#include "api/run_errors.h"

#include <gtest/gtest.h>

namespace kiln::api {
namespace {

using nlohmann::json;

TEST(RunErrors, NormalEndIsNoError) {
  json end = {{"op", "end"}, {"execution_count", 3}, {"timed_out", false}};
  EXPECT_TRUE(error_for_run_end({end, false, 60, 512}).is_null());
}

TEST(RunErrors, InterruptedTimeoutKeepsRunnersOwnError) {
  // The runner survived the interrupt and reported the error itself.
  json end = {{"op", "end"}, {"timed_out", true}};
  EXPECT_TRUE(error_for_run_end({end, false, 5, 512}).is_null());
}

TEST(RunErrors, KilledAfterTimeoutSaysStateLost) {
  json end = {{"op", "end"}, {"timed_out", true}, {"runner_exit", {{"signal", 9}}}};
  json e = error_for_run_end({end, false, 5, 512});
  EXPECT_EQ(e["name"], "TimeoutError");
  EXPECT_NE(e["value"].get<std::string>().find("5 s"), std::string::npos);
  EXPECT_NE(e["value"].get<std::string>().find("restarted"), std::string::npos);
}

TEST(RunErrors, OomWinsOverTimeout) {
  json end = {{"op", "end"}, {"timed_out", true}, {"runner_exit", {{"signal", 9}}}};
  json e = error_for_run_end({end, true, 5, 128});
  EXPECT_EQ(e["name"], "OutOfMemoryError");
  EXPECT_NE(e["value"].get<std::string>().find("128 MiB"), std::string::npos);
}

TEST(RunErrors, OtherDeathIsContextDied) {
  json end = {{"op", "end"}, {"runner_exit", {{"code", 1}}}};
  json e = error_for_run_end({end, false, 5, 128});
  EXPECT_EQ(e["name"], "ContextDiedError");
  EXPECT_TRUE(e.contains("line"));
}

TEST(RunErrors, StoppedContext) {
  json end = {{"op", "end"}, {"stopped", true}, {"runner_exit", {{"signal", 9}}}};
  EXPECT_EQ(error_for_run_end({end, true, 5, 128})["name"], "ContextStoppedError");
}

}  // namespace
}  // namespace kiln::api
