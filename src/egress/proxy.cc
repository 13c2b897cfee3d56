#include "egress/proxy.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <vector>

#include "egress/target.h"

namespace kiln::egress {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kChunk = 256 * 1024;

const auto kAwait = asio::use_awaitable;

// Both sockets of one proxied connection; whoever finishes last closes.
struct Pipe {
  explicit Pipe(tcp::socket c, tcp::socket u) : client(std::move(c)), upstream(std::move(u)) {}
  tcp::socket client, upstream;
  int done = 0;
  void close() {
    error_code ec;
    client.close(ec);
    upstream.close(ec);
  }
};

awaitable<void> pump(std::shared_ptr<Pipe> pipe, bool up, std::shared_ptr<LogEntry> entry,
                     std::shared_ptr<SandboxEgress> state) {
  tcp::socket& from = up ? pipe->client : pipe->upstream;
  tcp::socket& to = up ? pipe->upstream : pipe->client;
  std::vector<char> buf(kChunk);
  while (true) {
    error_code ec;
    const std::size_t n =
        co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(kAwait, ec));
    if (n > 0) {
      error_code wec;
      co_await asio::async_write(to, asio::buffer(buf.data(), n),
                                 asio::redirect_error(kAwait, wec));
      if (wec) break;
      (up ? entry->bytes_up : entry->bytes_down) += n;
      (up ? state->bytes_up : state->bytes_down) += n;
      (up ? counters().bytes_up : counters().bytes_down) += n;
    }
    if (ec == asio::error::eof) {
      error_code sec;
      to.shutdown(tcp::socket::shutdown_send, sec);
      break;
    }
    if (ec) {
      pipe->close();
      break;
    }
  }
  if (++pipe->done == 2) pipe->close();
}

// Plain HTTP: the origin's response head goes to the client with
// "Connection: close", so the client opens a new (newly checked) proxy
// connection for its next request instead of reusing this one.
awaitable<bool> relay_response_head(Pipe& pipe, LogEntry& entry, SandboxEgress& state) {
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.skip(true);  // the body is copied as bytes, not parsed
  error_code ec;
  co_await http::async_read_header(pipe.upstream, buf, parser, asio::redirect_error(kAwait, ec));
  if (ec) co_return false;
  auto& res = parser.get();
  res.set(http::field::connection, "close");
  http::response_serializer<http::empty_body> sr{res};
  std::size_t n =
      co_await http::async_write_header(pipe.client, sr, asio::redirect_error(kAwait, ec));
  if (!ec && buf.size() > 0) {
    const std::size_t rest =
        co_await asio::async_write(pipe.client, buf.data(), asio::redirect_error(kAwait, ec));
    n += rest;
  }
  entry.bytes_down += n;
  state.bytes_down += n;
  counters().bytes_down += n;
  co_return !ec;
}

awaitable<void> direction(std::shared_ptr<Pipe> pipe, bool up, bool rewrite_head,
                          std::shared_ptr<LogEntry> entry, std::shared_ptr<SandboxEgress> state,
                          std::shared_ptr<asio::steady_timer> finished) {
  // (No co_await inside a condition: GCC 12 miscompiles some of those.)
  bool head_ok = true;
  if (rewrite_head) head_ok = co_await relay_response_head(*pipe, *entry, *state);
  if (head_ok) {
    co_await pump(pipe, up, entry, state);
  } else {
    pipe->close();
    ++pipe->done;
  }
  if (pipe->done == 2) finished->cancel();
}

// A short response to the client, then the connection is closed.
awaitable<void> refuse(beast::tcp_stream& stream, unsigned status, const std::string& why) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  // The reason phrase carries the message: clients print it for a failed
  // CONNECT (the body of a CONNECT refusal is not shown).
  std::string phrase = "kiln egress: " + why;
  for (char& c : phrase) {
    if (c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (phrase.size() > 200) phrase.resize(200);
  res.reason(phrase);
  res.set(http::field::content_type, "text/plain");
  res.set(http::field::connection, "close");
  res.set("X-Kiln-Egress", "denied");
  res.body() = phrase + "\n";
  res.prepare_payload();
  error_code ec;
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, res, asio::redirect_error(kAwait, ec));
  // Half-close, then drain what the client still sends (briefly, boundedly):
  // closing with unread bytes would reset the connection and could lose the
  // refusal before the client reads it.
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> sink{};
  std::size_t drained = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (!ec && drained < kChunk) {
    const std::size_t got =
        co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(kAwait, ec));
    drained += got;
  }
}

LogEntry new_entry(const std::string& kind, const std::string& host, std::uint16_t port) {
  LogEntry e;
  e.at = std::chrono::system_clock::now();
  e.started = std::chrono::steady_clock::now();
  e.kind = kind;
  e.host = host;
  e.port = port;
  return e;
}

void log_denied(SandboxEgress& state, LogEntry e) {
  e.allowed = false;
  ++counters().denied;
  spdlog::info(
      "event=egress_denied sandbox={} host={} port={} address={} rule=\"{}\" reason=\"{}\"",
      state.sandbox_id, e.host, e.port, e.address, e.rule, e.reason);
  state.log.add(std::move(e));
}

// Counts a connection as active for its whole life.
struct ActiveGuard {
  explicit ActiveGuard(SandboxEgress& s) : state(s) { ++state.active; }
  ~ActiveGuard() { --state.active; }
  ActiveGuard(const ActiveGuard&) = delete;
  ActiveGuard& operator=(const ActiveGuard&) = delete;
  SandboxEgress& state;
};

awaitable<void> serve_one(tcp::socket socket, std::shared_ptr<SandboxEgress> state,
                          ProxyOptions opt) {
  const ActiveGuard guard_active(*state);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  stream.expires_after(opt.header_timeout);
  error_code ec;
  co_await http::async_read_header(stream, buf, parser, asio::redirect_error(kAwait, ec));
  if (ec) co_return;
  stream.expires_never();
  auto& req = parser.get();
  const bool is_connect = req.method() == http::verb::connect;
  const std::string raw_target(req.target());
  Result<Target> target =
      is_connect ? parse_connect_target(raw_target) : parse_proxy_url(raw_target);
  if (!target) {
    co_await refuse(stream, 400, target.status().message());
    co_return;
  }
  const std::string host = normalize_host(target->host);
  LogEntry entry =
      new_entry(is_connect ? "connect" : "http", host.empty() ? target->host : host, target->port);
  if (host.empty()) {
    entry.rule = "syntax";
    entry.reason = "not a valid host name";
    log_denied(*state, entry);
    co_await refuse(stream, 400, "\"" + target->host.substr(0, 64) + "\" is not a valid host name");
    co_return;
  }
  // The operator's mirrors are decided over an "internet" base (only the
  // sandbox's deny rules and the always-refused addresses apply).
  const bool to_mirror = is_mirror(state->mirrors, host, target->port);
  if (Decision d = decide_name(effective_policy(state->policy, state->mirrors, host, target->port),
                               host, target->port);
      !d.allowed) {
    entry.rule = d.rule;
    entry.reason = d.reason;
    log_denied(*state, entry);
    co_await refuse(stream, 403, d.reason);
    co_return;
  }
  auto addresses = co_await opt.resolver->resolve(host);
  if (!addresses) {
    entry.rule = "resolve";
    entry.reason = addresses.status().message();
    log_denied(*state, entry);
    co_await refuse(stream, 502, entry.reason);
    co_return;
  }
  // The policy may have changed while we resolved: decide on it as it is now.
  std::vector<tcp::endpoint> checked;
  Decision first_refusal;
  std::string first_refused_address;
  std::string rule;
  const Policy now = effective_policy(state->policy, state->mirrors, host, target->port);
  for (const auto& a : *addresses) {
    Decision d = decide_address(now, *opt.operator_cidrs, host, a, target->port);
    if (d.allowed) {
      if (checked.empty()) rule = to_mirror ? "mirror" : d.rule;
      checked.emplace_back(a, target->port);
    } else if (first_refused_address.empty()) {
      first_refusal = d;
      first_refused_address = a.to_string();
    }
  }
  if (checked.empty()) {
    entry.address = first_refused_address;
    entry.rule = first_refusal.rule;
    entry.reason = first_refusal.reason;
    log_denied(*state, entry);
    co_await refuse(stream, 403, first_refusal.reason);
    co_return;
  }
  tcp::socket upstream(stream.get_executor());
  asio::steady_timer guard(stream.get_executor(), opt.connect_timeout);
  guard.async_wait([&upstream](error_code e) {
    if (!e) {
      error_code ignored;
      upstream.close(ignored);
    }
  });
  tcp::endpoint connected =
      co_await asio::async_connect(upstream, checked, asio::redirect_error(kAwait, ec));
  guard.cancel();
  if (ec || !upstream.is_open()) {
    entry.address = checked.front().address().to_string();
    entry.rule = rule;
    entry.reason = "connect failed: " + (ec ? ec.message() : std::string("timed out"));
    log_denied(*state, entry);
    co_await refuse(stream, 502, host + ":" + std::to_string(target->port) + " " + entry.reason);
    co_return;
  }
  entry.address = connected.address().to_string();
  entry.allowed = true;
  entry.rule = rule;
  entry.open = true;
  ++counters().allowed;
  auto live = state->log.add(entry);
  spdlog::info("event=egress_allowed sandbox={} host={} port={} address={} rule=\"{}\"",
               state->sandbox_id, host, target->port, entry.address, rule);

  if (is_connect) {
    static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(stream.socket(), asio::buffer(kEstablished),
                               asio::redirect_error(kAwait, ec));
  } else {
    req.target(target->origin);
    req.erase(http::field::proxy_authorization);
    req.erase("Proxy-Connection");
    req.set(http::field::connection, "close");
    http::request_serializer<http::empty_body> sr{req};
    const std::size_t head =
        co_await http::async_write_header(upstream, sr, asio::redirect_error(kAwait, ec));
    live->bytes_up += head;
    state->bytes_up += head;
    counters().bytes_up += head;
  }
  // Bytes the client sent after the head (a TLS hello, a request body).
  if (!ec && buf.size() > 0) {
    live->bytes_up += buf.size();
    state->bytes_up += buf.size();
    counters().bytes_up += buf.size();
    co_await asio::async_write(upstream, buf.data(), asio::redirect_error(kAwait, ec));
  }
  auto pipe = std::make_shared<Pipe>(stream.release_socket(), std::move(upstream));
  if (ec) pipe->close();
  std::weak_ptr<Pipe> weak = pipe;
  const std::uint64_t id =
      state->add_tunnel(Tunnel{host, target->port, connected.address(), live, [weak] {
                                 if (auto p = weak.lock()) p->close();
                               }});
  auto ex = co_await asio::this_coro::executor;
  // Both directions run as their own coroutines; the last to finish wakes
  // this one (which keeps the tunnel registered until then).
  auto finished = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  asio::co_spawn(ex, direction(pipe, true, false, live, state, finished), asio::detached);
  asio::co_spawn(ex, direction(pipe, false, !is_connect, live, state, finished), asio::detached);
  co_await finished->async_wait(asio::redirect_error(kAwait, ec));
  live->open = false;
  live->duration_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - live->started)
                                     .count());
  state->remove_tunnel(id);
}

awaitable<void> accept_loop(std::shared_ptr<SandboxEgress> state, ProxyOptions opt) {
  while (state->acceptor && state->acceptor->is_open()) {
    error_code ec;
    tcp::socket s = co_await state->acceptor->async_accept(asio::redirect_error(kAwait, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !state->acceptor->is_open()) break;
      // Out of fds or the like: back off instead of spinning.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(kAwait, ec));
      continue;
    }
    if (state->active >= SandboxEgress::kMaxConnections) {
      s.close(ec);  // over the cap: dropped at once, nothing logged per attempt
      continue;
    }
    auto ex = s.get_executor();
    asio::co_spawn(ex, serve_one(std::move(s), state, opt), asio::detached);
  }
}

}  // namespace

void start_proxy(asio::io_context& io, UniqueFd listener, std::shared_ptr<SandboxEgress> state,
                 ProxyOptions options) {
  state->acceptor.emplace(io, tcp::v4(), listener.release());
  asio::co_spawn(io, accept_loop(state, options), asio::detached);
}

}  // namespace kiln::egress
