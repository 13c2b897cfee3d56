// Connection: kilnd's end of the socketpair to one sandbox's kiln-init.
//
// open() sends a typed request (protocol/messages.h) under a new request id
// and returns the EventQueue its events land in. A reader coroutine decodes
// every frame; a frame that does not decode, an event for no open request
// or a second hello means kiln-init is not behaving, and the connection is
// closed (which ends the sandbox): a sandbox is never trusted to resync.
// Writes are queued and sent in order by one writer coroutine (Asio
// forbids overlapping writes on a stream).
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "protocol/messages.h"
#include "sandbox/event_queue.h"

namespace kiln::sandbox {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor ex, UniqueFd fd);

  // Starts the reader. on_closed(reason) runs once when the connection ends.
  void start(std::function<void(const std::string& reason)> on_closed);
  // Sends `request` under a new rid. `budget_bytes` bounds what its events
  // may hold (see EventQueue); a closed connection gives a closed queue.
  std::shared_ptr<EventQueue> open(protocol::Request request,
                                   std::uint64_t budget_bytes = kDefaultBudget);
  // Sends a request nobody awaits an answer to (Interrupt).
  void post(protocol::Request request);
  // Awaits the hello kiln-init sends first; false if it never came.
  boost::asio::awaitable<bool> wait_hello();
  void close(const std::string& reason = "closed by kilnd");
  bool closed() const { return closed_; }

  // Enough for any reply; runs pass their own, larger budgets.
  static constexpr std::uint64_t kDefaultBudget = protocol::kMaxDataBytes + (1u << 20);
  // Bytes kilnd may have queued for a kiln-init that does not read them
  // (two files in flight and then some); past it the sandbox is ended.
  static constexpr std::uint64_t kMaxOutbox = 2ull * protocol::kMaxDataBytes + (16u << 20);

 private:
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  void enqueue(std::string bytes);
  // Routes one decoded frame; false when the frame breaks the protocol.
  bool deliver(protocol::Frame frame, std::string& why);
  void update_max_data();

  boost::asio::posix::stream_descriptor stream_;
  protocol::FrameDecoder decoder_;
  std::map<std::uint64_t, std::shared_ptr<EventQueue>> queues_;
  std::map<std::uint64_t, std::uint32_t> reads_;  // rid -> file cap, for ReadFile requests
  bool hello_seen_ = false;
  std::shared_ptr<EventQueue> hello_;
  std::deque<std::string> outbox_;
  std::uint64_t outbox_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  std::uint64_t next_rid_ = 1;
  std::function<void(const std::string&)> on_closed_;
};

}  // namespace kiln::sandbox
