// Connection: kilnd's end of the socketpair to one sandbox's kiln-init.
//
// Requests carry a request id ("rid"); every frame kiln-init sends back for
// that rid lands in the FrameQueue returned by open(). A reader coroutine
// dispatches incoming frames; writes are queued and sent in order by one
// writer coroutine (Asio forbids overlapping writes on a stream).
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "sandbox/frame_queue.h"

namespace kiln::sandbox {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor ex, UniqueFd fd);

  // Starts the reader. on_closed runs once when kiln-init goes away.
  void start(std::function<void()> on_closed);
  // Registers a queue for a new rid and sends the request.
  std::shared_ptr<FrameQueue> open(nlohmann::json msg, std::string data = {});
  // Sends without expecting an answer (e.g. interrupt).
  void post(nlohmann::json msg);
  // Forgets a rid (late frames for it are dropped).
  void forget(std::uint64_t rid) { queues_.erase(rid); }
  // Awaits the hello frame kiln-init sends first.
  boost::asio::awaitable<bool> wait_hello();
  void close();
  bool closed() const { return closed_; }

 private:
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  void enqueue(std::string bytes);

  boost::asio::posix::stream_descriptor stream_;
  protocol::FrameDecoder decoder_;
  std::map<std::uint64_t, std::shared_ptr<FrameQueue>> queues_;
  std::shared_ptr<FrameQueue> hello_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  std::uint64_t next_rid_ = 1;
  std::function<void()> on_closed_;
};

}  // namespace kiln::sandbox
