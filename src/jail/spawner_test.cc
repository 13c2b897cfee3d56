#include "jail/spawner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace kiln::jail {
namespace {

TEST(Spawner, CountsThreads) {
  auto before = thread_count();
  ASSERT_TRUE(before);
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!stop) std::this_thread::yield();
  });
  auto during = thread_count();
  stop = true;
  t.join();
  ASSERT_TRUE(during);
  EXPECT_EQ(*during, *before + 1);
}

TEST(Spawner, RefusesToStartFromAMultiThreadedProcess) {
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!stop) std::this_thread::yield();
  });
  auto s = Spawner::start();
  stop = true;
  t.join();
  ASSERT_FALSE(s);
  EXPECT_NE(s.status().message().find("single-threaded"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace kiln::jail
