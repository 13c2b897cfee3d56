// HttpContext: one request being answered, with helpers for JSON replies,
// raw bytes, and NDJSON/SSE streams. Handlers throw ApiError for a clean
// error reply; the server turns it into {"error": {"code", "message"}}.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::api {

namespace http = boost::beast::http;

struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
  int status;
  std::string code;
};

ApiError not_found(const std::string& what);
ApiError bad_request(const std::string& what);

// 400 naming the first key of `object` not in `known`; `where` prefixes
// the name for nested objects ("arguments.", "limits.").
void reject_unknown_fields(const nlohmann::json& object,
                           std::initializer_list<std::string_view> known,
                           const std::string& where = "");

enum class StreamMode { kNone, kNdjson, kSse };

class HttpContext {
 public:
  // parse=false skips the target and headers (for answering a request
  // whose target could not be parsed).
  HttpContext(boost::beast::tcp_stream& stream, http::request<http::string_body>& req,
              bool parse = true);

  const http::request<http::string_body>& request() const { return req_; }
  http::verb method() const { return req_.method(); }
  const std::vector<std::string>& segments() const { return segments_; }
  // Query parameter, percent-decoded; "" when absent.
  std::string query(const std::string& key) const;
  bool has_query(const std::string& key) const { return query_.count(key) > 0; }
  StreamMode stream_mode() const { return stream_mode_; }
  bool keep_alive() const { return keep_alive_; }
  bool responded() const { return responded_; }
  // The workspace the request acts for (set by the auth check).
  const std::string& workspace() const { return workspace_; }
  void set_workspace(std::string w) { workspace_ = std::move(w); }

  // The body parsed as a JSON object ({} when empty); 400 otherwise, also
  // for any field not in `known`: a client that asks for a setting kilnd
  // does not have must never silently not get it.
  nlohmann::json json_body(std::initializer_list<std::string_view> known) const;

  // An extra response header for the reply still to be sent.
  void add_header(std::string name, std::string value) {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }

  boost::asio::awaitable<void> send_json(int status, const nlohmann::json& body);
  boost::asio::awaitable<void> send_bytes(int status, const std::string& content_type,
                                          std::string body);
  boost::asio::awaitable<void> send_empty(int status);
  boost::asio::awaitable<void> send_error(const ApiError& e);
  // A response the caller built, with headers of its own (the console).
  boost::asio::awaitable<void> send_response(http::response<http::string_body>& res);

  // Streams: header first (chunked), then one event per chunk.
  boost::asio::awaitable<void> begin_stream();
  boost::asio::awaitable<bool> stream_event(const nlohmann::json& event);
  boost::asio::awaitable<void> end_stream();
  // A stream of raw chunks with its own Content-Type (Connect envelopes);
  // end it with end_stream().
  boost::asio::awaitable<void> begin_stream(const std::string& content_type);
  boost::asio::awaitable<bool> stream_raw(std::string_view bytes);

  // Calls on_gone once if the client closes its connection while a
  // response is pending (the socket turns readable with EOF).
  void watch_disconnect(std::function<void()> on_gone);
  // A header for the response still to be sent (e.g. Mcp-Session-Id).
  void add_response_header(std::string name, std::string value) {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }
  void stop_watching();

 private:
  boost::beast::tcp_stream& stream_;
  http::request<http::string_body>& req_;
  std::vector<std::string> segments_;
  std::map<std::string, std::string> query_;
  StreamMode stream_mode_ = StreamMode::kNone;
  bool keep_alive_ = true;
  bool responded_ = false;
  bool stream_failed_ = false;
  std::shared_ptr<bool> watching_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  std::string workspace_ = "default";
};

}  // namespace kiln::api
