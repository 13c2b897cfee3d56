// EventQueue: the events kiln-init sends for one request, in order, for the
// coroutine that awaits them.
//
// A run's events are bounded here whatever the sandbox sends: once the
// content (output text, result and error JSON, file bytes) accepted for one
// request reaches its budget, further non-final events are dropped and
// counted, so kilnd's memory per request stays bounded even if kiln-init
// misbehaves. Consecutive output of one stream is merged while it waits, so
// a consumer that falls behind (a slow streaming client) costs the bytes,
// not a queue entry per write. The final event (End or Reply) is always
// kept.
//
// Thread-safety: single-threaded (the daemon's io_context thread); push and
// pop must run on that thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <deque>
#include <optional>

#include "protocol/messages.h"

namespace kiln::sandbox {

class EventQueue {
 public:
  EventQueue(boost::asio::any_io_executor ex, std::uint64_t rid, std::uint64_t budget_bytes)
      : timer_(ex), rid_(rid), budget_(budget_bytes) {}

  std::uint64_t rid() const { return rid_; }

  // `bytes` is the event's size on the wire (see protocol::Frame).
  void push(protocol::Event event, std::uint64_t bytes) {
    if (closed_) return;
    if (!protocol::is_terminal(event)) {
      if (accepted_ + bytes > budget_) {
        dropped_bytes_ += bytes;
        return;
      }
      accepted_ += bytes;
      if (merge_output(event)) return;
    }
    events_.push_back(std::move(event));
    timer_.cancel();
  }
  // After close(), pop() drains what is queued, then returns nullopt.
  void close() {
    closed_ = true;
    timer_.cancel();
  }
  bool closed() const { return closed_; }
  // Bytes refused because the request's budget was spent (0 normally).
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }
  std::uint64_t budget() const { return budget_; }

  boost::asio::awaitable<std::optional<protocol::Event>> pop() {
    while (events_.empty() && !closed_) {
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (events_.empty()) co_return std::nullopt;
    protocol::Event e = std::move(events_.front());
    events_.pop_front();
    co_return e;
  }

 private:
  bool merge_output(protocol::Event& event) {
    auto* out = std::get_if<protocol::Output>(&event);
    if (out == nullptr || out->notice || events_.empty()) return false;
    auto* last = std::get_if<protocol::Output>(&events_.back());
    if (last == nullptr || last->notice || last->stream != out->stream) return false;
    last->text += out->text;
    return true;
  }

  boost::asio::steady_timer timer_;
  std::uint64_t rid_;
  std::uint64_t budget_;
  std::uint64_t accepted_ = 0;
  std::uint64_t dropped_bytes_ = 0;
  std::deque<protocol::Event> events_;
  bool closed_ = false;
};

}  // namespace kiln::sandbox
