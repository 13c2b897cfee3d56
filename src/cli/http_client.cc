#include "cli/http_client.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <memory>
#include <utility>

namespace kiln::cli {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::size_t kWriteSlice = 256 * 1024;
constexpr std::size_t kReadSlice = 64 * 1024;

// One request/answer on one connection. The coroutine and the ticking timer
// share it on one io_context thread.
struct Exchange {
  const Endpoint& ep;
  const std::string& api_key;
  const HttpRequest& req;
  const HttpHooks& hooks;
  beast::tcp_stream stream;
  asio::steady_timer ticker;
  bool done = false;
  bool cancelled = false;
  Status status;
  HttpResponse response;

  Exchange(asio::io_context& io, const Endpoint& e, const std::string& key, const HttpRequest& r,
           const HttpHooks& h)
      : ep(e), api_key(key), req(r), hooks(h), stream(io), ticker(io) {}

  // A failure as the user should read it: what we were doing, where, why.
  Status fail(const std::string& stage, const error_code& ec) const {
    if (cancelled) return Status::of(ErrorKind::kUnavailable, "interrupted", kInterruptedErrno);
    if (ec == beast::error::timeout) {
      return Status::internal(stage == "connect"
                                  ? "cannot reach kilnd at " + ep.url + ": connection timed out"
                                  : "kilnd at " + ep.url + " stopped answering");
    }
    if (stage == "resolve")
      return Status::internal("cannot reach kilnd at " + ep.url + ": unknown host '" + ep.host +
                              "'");
    if (stage == "connect") {
      std::string hint = ec == asio::error::connection_refused ? " (is kilnd running?)" : "";
      return Status::internal("cannot reach kilnd at " + ep.url + ": " + ec.message() + hint);
    }
    return Status::internal("connection to kilnd at " + ep.url + " failed while " + stage + ": " +
                            ec.message());
  }

  void arm_idle() {
    if (hooks.idle_timeout.count() > 0)
      stream.expires_after(hooks.idle_timeout);
    else
      stream.expires_never();
  }

  void tick() {
    ticker.expires_after(std::chrono::milliseconds(50));
    ticker.async_wait([this](error_code ec) {
      if (ec || done) return;
      if (hooks.cancelled && hooks.cancelled()) {
        cancelled = true;
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
        return;
      }
      if (hooks.on_tick) hooks.on_tick();
      tick();
    });
  }

  awaitable<void> run() {
    status = co_await talk();
    done = true;
    ticker.cancel();
  }

  awaitable<Status> talk() {
    error_code ec;
    auto use = asio::redirect_error(asio::use_awaitable, ec);
    tcp::resolver resolver(stream.get_executor());
    auto endpoints = co_await resolver.async_resolve(ep.host, ep.port, use);
    if (ec) co_return fail("resolve", ec);
    stream.expires_after(kConnectTimeout);
    co_await stream.async_connect(endpoints, use);
    if (ec) co_return fail("connect", ec);

    http::request<http::empty_body> head;
    head.method_string(req.method);
    head.target(ep.prefix + req.target);
    head.version(11);
    head.set(http::field::host, ep.host + ":" + ep.port);
    head.set(http::field::user_agent, "kiln/" KILN_VERSION);
    head.set(http::field::connection, "close");
    if (!api_key.empty()) head.set(http::field::authorization, "Bearer " + api_key);
    if (!req.accept.empty()) head.set(http::field::accept, req.accept);
    if (req.has_body || !req.body.empty()) {
      if (!req.content_type.empty()) head.set(http::field::content_type, req.content_type);
      head.content_length(req.body.size());
    }
    arm_idle();
    http::request_serializer<http::empty_body> sr{head};
    co_await http::async_write_header(stream, sr, use);
    if (ec) co_return fail("sending the request", ec);
    for (std::size_t off = 0; off < req.body.size();) {
      const std::size_t n = std::min(kWriteSlice, req.body.size() - off);
      arm_idle();
      co_await asio::async_write(stream, asio::buffer(req.body.data() + off, n), use);
      // kilnd may answer (413, 401) before reading the whole body and close.
      if (ec) break;
      off += n;
      if (hooks.on_sent) hooks.on_sent(off, req.body.size());
    }
    if (ec && cancelled) co_return fail("sending the request", ec);
    ec = {};

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    // Not boost::none: Boost 1.74 compares a Content-Length against an
    // empty optional as "over the limit".
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    arm_idle();
    co_await http::async_read_header(stream, buffer, parser, use);
    if (ec) co_return fail("reading the answer", ec);
    response.status = static_cast<int>(parser.get().result_int());
    response.content_type = std::string(parser.get()[http::field::content_type]);
    const bool to_sink = hooks.on_body && response.status >= 200 && response.status < 300;
    std::optional<std::uint64_t> total;
    if (auto len = parser.content_length()) total = *len;
    std::uint64_t received = 0;
    std::array<char, kReadSlice> slice{};
    while (!parser.is_done()) {
      parser.get().body().data = slice.data();
      parser.get().body().size = slice.size();
      arm_idle();
      co_await http::async_read_some(stream, buffer, parser, use);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return fail("reading the answer", ec);
      const std::size_t n = slice.size() - parser.get().body().size;
      if (n == 0) continue;
      received += n;
      if (to_sink)
        hooks.on_body(std::string_view(slice.data(), n));
      else
        response.body.append(slice.data(), n);
      if (hooks.on_received) hooks.on_received(received, total);
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return Status::ok();
  }
};

}  // namespace

HttpClient::HttpClient(Endpoint endpoint, std::string api_key)
    : endpoint_(std::move(endpoint)), api_key_(std::move(api_key)) {}

Result<HttpResponse> HttpClient::send(const HttpRequest& request, const HttpHooks& hooks) const {
  asio::io_context io;
  auto ex = std::make_unique<Exchange>(io, endpoint_, api_key_, request, hooks);
  asio::co_spawn(io, ex->run(), asio::detached);
  ex->tick();
  io.run();
  if (!ex->status) return ex->status;
  return std::move(ex->response);
}

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace kiln::cli
