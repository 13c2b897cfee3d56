#include "api/http_context.h"

#include <sys/socket.h>
#include <uriparser/Uri.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/chunk_encode.hpp>

#include "common/bounded_json.h"

namespace kiln::api {

namespace {
// Request bodies have fixed shapes; nothing a client sends needs more.
constexpr JsonLimits kRequestJsonLimits{64u << 20, 64};
}  // namespace

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

ApiError not_found(const std::string& what) { return ApiError(404, "not_found", what); }
ApiError bad_request(const std::string& what) { return ApiError(400, "bad_request", what); }

namespace {

std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  if (q.empty()) return out;
  // uriparser decodes into C strings: an escaped NUL would silently cut a
  // value short ("a%00b" -> "a"). No parameter may carry one.
  for (std::size_t i = q.find('%'); i != std::string::npos; i = q.find('%', i + 1)) {
    if (q.compare(i, 3, "%00") == 0) throw bad_request("query contains an escaped NUL byte (%00)");
  }
  UriQueryListA* list = nullptr;
  int count = 0;
  if (uriDissectQueryMallocA(&list, &count, q.data(), q.data() + q.size()) != URI_SUCCESS) {
    throw bad_request("malformed query string");
  }
  for (auto* it = list; it != nullptr; it = it->next) {
    if (it->key) out[it->key] = it->value ? it->value : "";
  }
  uriFreeQueryListA(list);
  return out;
}

}  // namespace

HttpContext::HttpContext(boost::beast::tcp_stream& stream, http::request<http::string_body>& req,
                         bool parse)
    : stream_(stream), req_(req) {
  keep_alive_ = req_.keep_alive();
  if (!parse) return;
  std::string target(req_.target());
  std::string path = target, q;
  if (auto pos = target.find('?'); pos != std::string::npos) {
    path = target.substr(0, pos);
    q = target.substr(pos + 1);
  }
  std::size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) segments_.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  query_ = parse_query(q);
  std::string accept(req_[http::field::accept]);
  if (accept.find("application/x-ndjson") != std::string::npos)
    stream_mode_ = StreamMode::kNdjson;
  else if (accept.find("text/event-stream") != std::string::npos)
    stream_mode_ = StreamMode::kSse;
}

std::string HttpContext::query(const std::string& key) const {
  auto it = query_.find(key);
  return it == query_.end() ? "" : it->second;
}

void reject_unknown_fields(const nlohmann::json& object,
                           std::initializer_list<std::string_view> known,
                           const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool found = false;
    for (auto k : known) found = found || it.key() == k;
    if (found) continue;
    std::string names;
    for (auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    throw bad_request("unknown field '" + where + it.key() + "'" +
                      (names.empty() ? std::string(" (this request takes no fields)")
                                     : " (known: " + names + ")"));
  }
}

nlohmann::json HttpContext::json_body(std::initializer_list<std::string_view> known) const {
  if (req_.body().empty()) return nlohmann::json::object();
  // Bodies are size-capped by the server; depth is capped here, before a
  // value exists that a later copy or dump would recurse into.
  auto j = parse_bounded_json(req_.body(), kRequestJsonLimits);
  if (!j) throw bad_request("request body: " + j.status().message());
  if (!j->is_object()) throw bad_request("request body must be a JSON object");
  reject_unknown_fields(*j, known);
  return std::move(*j);
}

awaitable<void> HttpContext::send_bytes(int status, const std::string& content_type,
                                        std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), req_.version()};
  res.set(http::field::server, "kilnd/" KILN_VERSION);
  if (!content_type.empty()) res.set(http::field::content_type, content_type);
  for (const auto& [name, value] : extra_headers_) res.set(name, value);
  res.keep_alive(keep_alive_);
  res.body() = std::move(body);
  res.prepare_payload();
  responded_ = true;
  boost::system::error_code ec;
  co_await http::async_write(stream_, res, asio::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
}

awaitable<void> HttpContext::send_json(int status, const nlohmann::json& body) {
  co_await send_bytes(status, "application/json",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

awaitable<void> HttpContext::send_response(http::response<http::string_body>& res) {
  res.set(http::field::server, "kilnd/" KILN_VERSION);
  res.keep_alive(keep_alive_);
  responded_ = true;
  boost::system::error_code ec;
  co_await http::async_write(stream_, res, asio::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
}

awaitable<void> HttpContext::send_empty(int status) { co_await send_bytes(status, "", ""); }

awaitable<void> HttpContext::send_error(const ApiError& e) {
  nlohmann::json lit1_ = {{"error", {{"code", e.code}, {"message", e.what()}}}};
  co_await send_json(e.status, lit1_);
}

awaitable<void> HttpContext::begin_stream() {
  co_await begin_stream(stream_mode_ == StreamMode::kSse ? "text/event-stream"
                                                         : "application/x-ndjson");
}

awaitable<bool> HttpContext::stream_raw(std::string_view bytes) {
  if (stream_failed_) co_return false;
  boost::system::error_code ec;
  co_await asio::async_write(stream_, http::make_chunk(asio::buffer(bytes.data(), bytes.size())),
                             asio::redirect_error(use_awaitable, ec));
  if (ec) stream_failed_ = true;
  co_return !ec;
}

awaitable<void> HttpContext::begin_stream(const std::string& content_type) {
  http::response<http::empty_body> res{http::status::ok, req_.version()};
  res.set(http::field::server, "kilnd/" KILN_VERSION);
  res.set(http::field::content_type, content_type);
  for (const auto& [name, value] : extra_headers_) res.set(name, value);
  res.set(http::field::cache_control, "no-cache");
  for (const auto& [name, value] : extra_headers_) res.set(name, value);
  res.keep_alive(keep_alive_);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  responded_ = true;
  boost::system::error_code ec;
  co_await http::async_write_header(stream_, sr, asio::redirect_error(use_awaitable, ec));
  if (ec) stream_failed_ = true;
}

awaitable<bool> HttpContext::stream_event(const nlohmann::json& event) {
  if (stream_failed_) co_return false;
  std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (stream_mode_ == StreamMode::kSse)
    line = "data: " + line + "\n\n";
  else
    line += "\n";
  boost::system::error_code ec;
  co_await asio::async_write(stream_, http::make_chunk(asio::buffer(line)),
                             asio::redirect_error(use_awaitable, ec));
  if (ec) stream_failed_ = true;
  co_return !ec;
}

awaitable<void> HttpContext::end_stream() {
  if (stream_failed_) {
    keep_alive_ = false;
    co_return;
  }
  boost::system::error_code ec;
  co_await asio::async_write(stream_, http::make_chunk_last(),
                             asio::redirect_error(use_awaitable, ec));
  if (ec) keep_alive_ = false;
}

void HttpContext::watch_disconnect(std::function<void()> on_gone) {
  watching_ = std::make_shared<bool>(true);
  auto flag = watching_;
  auto& sock = stream_.socket();
  sock.async_wait(asio::ip::tcp::socket::wait_read,
                  [flag, &sock, on_gone = std::move(on_gone)](boost::system::error_code ec) {
                    if (ec || !*flag) return;
                    char c;
                    ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
                    if (n == 0 || (n < 0 && errno != EAGAIN)) on_gone();
                  });
}

void HttpContext::stop_watching() {
  if (!watching_) return;
  *watching_ = false;
  watching_.reset();
  boost::system::error_code ec;
  stream_.socket().cancel(ec);
}

}  // namespace kiln::api
