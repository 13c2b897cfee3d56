#include "api/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <limits>

#include "api/routes.h"

namespace kiln::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

Server::Server(asio::io_context& io, Services& services)
    : io_(io), services_(services), manager_(services.manager), acceptor_(io) {}

Status Server::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::internal("bad listen address " + host + ": " + ec.message());
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::internal("listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  return Status::ok();
}

void Server::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

void Server::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

awaitable<void> Server::accept_loop() {
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    tcp::socket sock = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (!acceptor_.is_open()) break;
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, session(std::move(sock)), asio::detached);
  }
}

namespace {

// Largest body a route accepts: file uploads may carry a whole file, the
// rest are JSON.
std::uint64_t body_limit_for(const http::request_parser<http::string_body>& p, const Config& c) {
  std::string target(p.get().target());
  if (p.get().method() == http::verb::put && target.find("/content") != std::string::npos) {
    return c.file_cap_bytes;
  }
  // E2B's envd upload (POST /files): the file, plus room for a multipart
  // envelope around it.
  if (p.get().method() == http::verb::post && target.rfind("/files", 0) == 0) {
    return c.file_cap_bytes + (64u << 10);
  }
  return c.max_json_body_bytes;
}

// After an early 413 the client is usually still sending its body; closing
// at once would make its TCP stack see a reset instead of our answer. Read
// and discard (bounded in bytes and time), then close.
awaitable<void> drain_and_close(beast::tcp_stream& stream, std::uint64_t max_bytes) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(5));
  std::vector<char> buf(64 * 1024);
  std::uint64_t total = 0;
  while (total <= max_bytes) {
    std::size_t n =
        co_await stream.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    total += n;
  }
  stream.expires_never();
}

}  // namespace

awaitable<void> Server::session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  const Config& config = manager_.config();
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // The real per-route limit is set once the target is known (so an
    // oversized Content-Length gets our 413, not a dropped connection);
    // boost::none would make Beast 1.74 refuse every Content-Length.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::system::error_code ec;
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const std::uint64_t limit = body_limit_for(parser, config);
    parser.body_limit(limit);
    std::optional<ApiError> too_large;
    std::uint64_t drain = 0;
    if (parser.content_length() && *parser.content_length() > limit) {
      // Answer 413 before reading a body we would refuse anyway.
      too_large = ApiError(413, "too_large",
                           "request body of " + std::to_string(*parser.content_length()) +
                               " bytes is over the " + std::to_string(limit) + "-byte limit");
      drain = *parser.content_length();
    } else {
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        too_large = ApiError(413, "too_large",
                             "request body is over the " + std::to_string(limit) + "-byte limit");
        drain = std::uint64_t{64} << 20;
      } else if (ec) {
        break;
      }
    }
    if (too_large) {
      http::request<http::string_body> req = parser.release();
      req.keep_alive(false);
      HttpContext ctx(stream, req, /*parse=*/false);  // its target may not parse
      co_await ctx.send_error(*too_large);
      co_await drain_and_close(stream, drain);
      break;
    }
    http::request<http::string_body> req = parser.release();
    const auto started = std::chrono::steady_clock::now();
    HttpContext* ctxp = nullptr;
    std::optional<ApiError> failure;
    std::optional<HttpContext> ctx;
    try {
      ctx.emplace(stream, req);
      ctxp = &*ctx;
      co_await dispatch(*ctx, services_);
    } catch (const ApiError& e) {
      failure = e;
    } catch (const nlohmann::json::exception& e) {
      failure = bad_request(std::string("bad JSON field: ") + e.what());
    } catch (const std::exception& e) {
      spdlog::error("event=handler_exception target=\"{}\" error=\"{}\"", std::string(req.target()),
                    e.what());
      failure = ApiError(500, "internal", std::string("internal error: ") + e.what());
    }
    if (failure) {
      if (!ctxp) {
        // The request could not even be parsed (bad query): answer, then close.
        req.keep_alive(false);
        ctx.reset();
        ctx.emplace(stream, req, /*parse=*/false);
        ctxp = &*ctx;
      }
      if (!ctxp->responded()) co_await ctxp->send_error(*failure);
    }
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    spdlog::debug("event=request method={} target=\"{}\" ms={:.2f}",
                  std::string(req.method_string()), std::string(req.target()), ms);
    if (!ctxp->keep_alive()) break;
  }
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace kiln::api
