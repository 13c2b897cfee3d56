#include "sandbox/event_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace kiln::sandbox {
namespace {

namespace asio = boost::asio;

std::vector<protocol::Event> drain(asio::io_context& io, EventQueue& q) {
  std::vector<protocol::Event> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (auto e = co_await q.pop()) out.push_back(std::move(*e));
      },
      asio::detached);
  io.run();
  return out;
}

protocol::Output out(const std::string& text, bool notice = false) {
  return {protocol::Stream::kStdout, text, notice};
}

TEST(EventQueue, OverBudgetEventsAreDroppedButTheEndIsKept) {
  asio::io_context io;
  EventQueue q(io.get_executor(), 1, 100);
  q.push(out(std::string(60, 'a')), 60);
  q.push(protocol::ResultEvent{}, 60);  // over: dropped
  q.push(out("b"), 30);
  q.push(protocol::End{}, 1000);  // terminal: always kept
  q.close();
  auto events = drain(io, q);
  ASSERT_EQ(events.size(), 2u);  // the two outputs merged, then End
  EXPECT_EQ(std::get<protocol::Output>(events[0]).text, std::string(60, 'a') + "b");
  EXPECT_TRUE(std::holds_alternative<protocol::End>(events[1]));
  EXPECT_EQ(q.dropped_bytes(), 60u);
}

TEST(EventQueue, WaitingOutputOfOneStreamIsMergedButNoticesAndStreamsStayApart) {
  asio::io_context io;
  EventQueue q(io.get_executor(), 1, 1 << 20);
  for (int i = 0; i < 1000; ++i) q.push(out("x"), 1);
  q.push(out("[note]", true), 6);
  q.push(protocol::Output{protocol::Stream::kStderr, "e", false}, 1);
  q.push(out("y"), 1);
  q.close();
  auto events = drain(io, q);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(std::get<protocol::Output>(events[0]).text, std::string(1000, 'x'));
  EXPECT_TRUE(std::get<protocol::Output>(events[1]).notice);
  EXPECT_EQ(std::get<protocol::Output>(events[2]).stream, protocol::Stream::kStderr);
  EXPECT_EQ(std::get<protocol::Output>(events[3]).text, "y");
}

TEST(EventQueue, NothingIsQueuedAfterClose) {
  asio::io_context io;
  EventQueue q(io.get_executor(), 1, 100);
  q.close();
  q.push(out("late"), 4);
  EXPECT_TRUE(drain(io, q).empty());
}

}  // namespace
}  // namespace kiln::sandbox
