// FrameQueue: an awaitable FIFO of frames for one request to kiln-init.
//
// Thread-safety: single-threaded (the daemon's one io_context thread); push
// and pop must run on that thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>

#include "protocol/frame.h"

namespace kiln::sandbox {

class FrameQueue {
 public:
  explicit FrameQueue(boost::asio::any_io_executor ex) : timer_(ex) {}

  void push(protocol::Frame frame) {
    frames_.push_back(std::move(frame));
    timer_.cancel();
  }
  // After close(), pop() drains what is queued, then returns nullopt.
  void close() {
    closed_ = true;
    timer_.cancel();
  }
  bool closed() const { return closed_; }
  std::uint64_t rid = 0;  // the request this queue answers

  boost::asio::awaitable<std::optional<protocol::Frame>> pop() {
    while (frames_.empty() && !closed_) {
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (frames_.empty()) co_return std::nullopt;
    protocol::Frame f = std::move(frames_.front());
    frames_.pop_front();
    co_return f;
  }

 private:
  boost::asio::steady_timer timer_;
  std::deque<protocol::Frame> frames_;
  bool closed_ = false;
};

}  // namespace kiln::sandbox
