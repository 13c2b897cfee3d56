#include "common/blocking_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln {
namespace {

namespace asio = boost::asio;

TEST(BlockingPool, RunsOffTheIoThreadAndResumesOnIt) {
  asio::io_context io;
  BlockingPool pool(2);
  std::thread::id io_thread = std::this_thread::get_id(), ran_on, resumed_on;
  int value = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        value = co_await pool.run([&] {
          ran_on = std::this_thread::get_id();
          return 42;
        });
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  io.run();
  EXPECT_EQ(value, 42);
  EXPECT_NE(ran_on, io_thread);
  EXPECT_EQ(resumed_on, io_thread);
}

TEST(BlockingPool, TheIoThreadKeepsServingWhileWorkBlocks) {
  asio::io_context io;
  BlockingPool pool(2);
  int ticks = 0;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await pool.run([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
        done = true;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!done) {
          t.expires_after(std::chrono::milliseconds(10));
          co_await t.async_wait(asio::use_awaitable);
          ++ticks;
        }
      },
      asio::detached);
  io.run();
  EXPECT_GE(ticks, 15);  // ~30 if the I/O thread was never blocked
}

TEST(BlockingPool, ExceptionsReachTheCaller) {
  asio::io_context io;
  BlockingPool pool(1);
  std::string caught;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await pool.run([]() -> int { throw std::runtime_error("boom"); });
        } catch (const std::exception& e) {
          caught = e.what();
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(caught, "boom");
}

TEST(BlockingPool, OrderedWorkRunsInOrderAndBarrierWaitsForIt) {
  asio::io_context io;
  BlockingPool pool(2);
  std::vector<int> order;  // only touched by the strand, then after the barrier
  bool barrier_saw_all = false;
  for (int i = 0; i < 100; ++i) {
    pool.post_ordered([&order, i] {
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      order.push_back(i);
    });
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await pool.barrier();
        barrier_saw_all = order.size() == 100;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(barrier_saw_all);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

// A run's answer waits for barrier(); slow work on the shared threads (a
// cgroup teardown sleeping for seconds) must not hold it up.
TEST(BlockingPool, BarrierDoesNotWaitForSlowSharedWork) {
  asio::io_context io;
  BlockingPool pool(1);
  std::atomic<bool> slow_done{false};
  bool barrier_first = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await pool.run([&slow_done] {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          slow_done = true;
        });
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
        co_await t.async_wait(asio::use_awaitable);  // the slow work holds the thread now
        pool.post_ordered([] {});
        co_await pool.barrier();
        barrier_first = !slow_done;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(barrier_first);
}

}  // namespace
}  // namespace kiln
