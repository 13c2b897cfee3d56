#include "sandbox/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

namespace kiln::sandbox {

namespace asio = boost::asio;

Connection::Connection(asio::any_io_executor ex, UniqueFd fd)
    : stream_(ex, fd.release()), hello_(std::make_shared<EventQueue>(ex, 0, 1024)) {
  decoder_.set_max_data(0);
}

void Connection::start(std::function<void(const std::string&)> on_closed) {
  on_closed_ = std::move(on_closed);
  asio::co_spawn(
      stream_.get_executor(), [self = shared_from_this()] { return self->read_loop(); },
      asio::detached);
}

asio::awaitable<bool> Connection::wait_hello() {
  auto e = co_await hello_->pop();
  co_return e.has_value();
}

std::shared_ptr<EventQueue> Connection::open(protocol::Request request,
                                             std::uint64_t budget_bytes) {
  const std::uint64_t rid = next_rid_++;
  auto q = std::make_shared<EventQueue>(stream_.get_executor(), rid, budget_bytes);
  if (closed_) {
    q->close();
    return q;
  }
  std::uint32_t read_cap = 0;
  if (const auto* r = std::get_if<protocol::ReadFile>(&request)) {
    read_cap = static_cast<std::uint32_t>(std::min<std::uint64_t>(r->cap, protocol::kMaxDataBytes));
  }
  auto bytes = protocol::encode_frame(protocol::encode_request(rid, std::move(request)));
  if (!bytes) {
    q->push(protocol::refusal(protocol::ReplyCode::kTooLarge, bytes.status().message()), 0);
    q->close();
    return q;
  }
  queues_[rid] = q;
  if (read_cap > 0) {
    reads_[rid] = read_cap;
    update_max_data();
  }
  enqueue(std::move(*bytes));
  return q;
}

void Connection::post(protocol::Request request) {
  if (closed_) return;
  auto bytes = protocol::encode_frame(protocol::encode_request(0, std::move(request)));
  if (bytes) enqueue(std::move(*bytes));
}

void Connection::enqueue(std::string bytes) {
  if (outbox_bytes_ + bytes.size() > kMaxOutbox) {
    // kiln-init stopped reading: nothing good comes of queueing more.
    close("kiln-init is not reading its requests (" + std::to_string(outbox_bytes_) +
          " bytes queued)");
    return;
  }
  outbox_bytes_ += bytes.size();
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
    outbox_bytes_ -= bytes.size();
    boost::system::error_code ec;
    co_await asio::async_write(stream_, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close("write to kiln-init failed: " + ec.message());
      break;
    }
  }
  writing_ = false;
}

void Connection::update_max_data() {
  std::uint32_t max = 0;
  for (const auto& [rid, cap] : reads_) max = std::max(max, cap);
  decoder_.set_max_data(max);
}

bool Connection::deliver(protocol::Frame frame, std::string& why) {
  const std::uint64_t bytes = frame.wire_bytes;
  auto decoded = protocol::decode_event(std::move(frame));
  if (!decoded) {
    why = "undecodable frame: " + decoded.status().message();
    return false;
  }
  if (std::holds_alternative<protocol::Hello>(decoded->event)) {
    if (hello_seen_) {
      why = "a second hello";
      return false;
    }
    hello_seen_ = true;
    hello_->push(std::move(decoded->event), 0);
    hello_->close();
    return true;
  }
  auto it = queues_.find(decoded->rid);
  // Late events for a request kilnd gave up on are expected; drop them.
  if (it == queues_.end()) return true;
  const bool terminal = protocol::is_terminal(decoded->event);
  if (!terminal && reads_.count(decoded->rid)) {
    why = "an event for a file read";
    return false;
  }
  auto q = it->second;
  q->push(std::move(decoded->event), bytes);
  if (terminal) {
    q->close();
    queues_.erase(it);
    if (reads_.erase(decoded->rid)) update_max_data();
  }
  return true;
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  std::vector<char> buf(256 * 1024);
  std::string why = "kiln-init closed its socket";
  while (!closed_) {
    boost::system::error_code ec;
    std::size_t n = co_await stream_.async_read_some(asio::buffer(buf),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    decoder_.feed(buf.data(), n);
    bool bad = false;
    while (!bad) {
      auto frame = decoder_.next();
      if (!frame) {
        why = frame.status().message();
        bad = true;
      } else if (!frame->has_value()) {
        break;
      } else if (!deliver(std::move(**frame), why)) {
        bad = true;
      }
    }
    if (bad) break;
  }
  close(why);
}

void Connection::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  stream_.close(ec);
  for (auto& [rid, q] : queues_) q->close();
  queues_.clear();
  reads_.clear();
  outbox_.clear();
  outbox_bytes_ = 0;
  hello_->close();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(reason);
  }
}

}  // namespace kiln::sandbox
