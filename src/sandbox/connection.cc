#include "sandbox/connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

namespace kiln::sandbox {

namespace asio = boost::asio;

Connection::Connection(asio::any_io_executor ex, UniqueFd fd)
    : stream_(ex, fd.release()), hello_(std::make_shared<FrameQueue>(ex)) {}

void Connection::start(std::function<void()> on_closed) {
  on_closed_ = std::move(on_closed);
  asio::co_spawn(
      stream_.get_executor(), [self = shared_from_this()] { return self->read_loop(); },
      asio::detached);
}

asio::awaitable<bool> Connection::wait_hello() {
  auto f = co_await hello_->pop();
  co_return f.has_value();
}

std::shared_ptr<FrameQueue> Connection::open(nlohmann::json msg, std::string data) {
  const std::uint64_t rid = next_rid_++;
  msg["rid"] = rid;
  auto q = std::make_shared<FrameQueue>(stream_.get_executor());
  q->rid = rid;
  if (closed_) {
    q->close();
    return q;
  }
  queues_[rid] = q;
  auto bytes = protocol::encode_frame({std::move(msg), std::move(data)});
  if (!bytes) {
    queues_.erase(rid);
    q->push(protocol::Frame{{{"op", "reply"},
                             {"rid", rid},
                             {"ok", false},
                             {"code", "too_large"},
                             {"message", bytes.status().message()}},
                            ""});
    return q;
  }
  enqueue(std::move(*bytes));
  return q;
}

void Connection::post(nlohmann::json msg) {
  if (closed_) return;
  msg["rid"] = 0;
  auto bytes = protocol::encode_frame({std::move(msg), ""});
  if (bytes) enqueue(std::move(*bytes));
}

void Connection::enqueue(std::string bytes) {
  outbox_.push_back(std::move(bytes));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(
        stream_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
        asio::detached);
  }
}

asio::awaitable<void> Connection::write_loop() {
  while (!outbox_.empty() && !closed_) {
    std::string bytes = std::move(outbox_.front());
    outbox_.pop_front();
    boost::system::error_code ec;
    co_await asio::async_write(stream_, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close();
      break;
    }
  }
  writing_ = false;
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  std::vector<char> buf(256 * 1024);
  while (!closed_) {
    boost::system::error_code ec;
    std::size_t n = co_await stream_.async_read_some(asio::buffer(buf),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    decoder_.feed(buf.data(), n);
    bool bad = false;
    while (true) {
      auto frame = decoder_.next();
      if (!frame) {
        bad = true;
        break;
      }
      if (!frame->has_value()) break;
      protocol::Frame& f = **frame;
      const std::string op = f.msg.value("op", "");
      if (op == "hello") {
        hello_->push(std::move(f));
        continue;
      }
      const std::uint64_t rid = f.msg.value("rid", std::uint64_t{0});
      auto it = queues_.find(rid);
      if (it == queues_.end()) continue;
      const bool terminal = op == "reply" || op == "end";
      it->second->push(std::move(f));
      if (terminal) {
        it->second->close();
        queues_.erase(it);
      }
    }
    if (bad) break;
  }
  close();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  stream_.close(ec);
  for (auto& [rid, q] : queues_) q->close();
  queues_.clear();
  hello_->close();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb();
  }
}

}  // namespace kiln::sandbox
