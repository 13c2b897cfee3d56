// Server: the HTTP/1.1 listener (Boost.Beast, C++20 coroutines), keep-alive
// sessions, body limits, and the route table.
//
// Thread-safety: single-threaded; everything runs on the io_context passed in.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "api/services.h"
#include "sandbox/manager.h"

namespace kiln::api {

class Server {
 public:
  Server(boost::asio::io_context& io, Services& services);
  // Binds and listens; fails with a clear message (e.g. address in use).
  Status listen(const std::string& host, std::uint16_t port);
  void start();
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  Services& services_;
  sandbox::SandboxManager& manager_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace kiln::api
