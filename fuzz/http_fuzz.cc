// libFuzzer harness: the HTTP request -> handler path of kilnd, up to the
// point where a handler would talk to a sandbox, Drive or the database.
//
// The input is raw bytes from a client. They go through Boost.Beast's
// request_parser with kilnd's limits (16 KiB header; body limit chosen per
// route once the header is in, as api/server.cc does), then into
// kiln::api::HttpContext (target splitting, uriparser query decoding,
// Accept -> stream mode, JSON body), and then through the pure parts of
// routing: the route table of api::dispatch, query flags and scopes,
// sandbox-path normalisation of `path` (and of JSON `cwd`/`sandbox_path`),
// Drive path/prefix normalisation, base64 and signed-link checking.
//
// kiln::api::dispatch itself is not called: it needs a live SandboxManager,
// Drive and database (Services). The harness mirrors its route table instead
// (see route() below) and fuzzes the parsing layer every handler relies on.
//
// The tcp_stream is built on an io_context but never connected or written:
// only HttpContext's parsing accessors are used.
//
// Expected for bad input: kiln::api::ApiError with a 4xx status, and
// nlohmann::json::exception (api/server.cc answers those with 400).
// Anything else escaping is a bug (kilnd would answer 500), and so is a
// broken invariant (abort()).
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_context.h"
#include "api/links.h"
#include "common/sandbox_path.h"
#include "storage/drive_path.h"
#include "storage/drive_scope.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using kiln::api::ApiError;
using kiln::api::HttpContext;
using nlohmann::json;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// Streams are built on it but never connected, read or written.
asio::io_context& io_context() {
  static asio::io_context io;
  return io;
}

// KILN_FUZZ_STRICT=1 also fails on the known api/server.cc issues
// (fuzz/README.md); turn it on once they are fixed.
bool strict() {
  static const bool on = [] {
    const char* v = std::getenv("KILN_FUZZ_STRICT");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return on;
}

// kilnd's defaults (daemon/config.h).
constexpr std::uint64_t kFileCapBytes = 50ull << 20;
constexpr std::uint64_t kMaxJsonBodyBytes = 4 << 20;
const std::string kLinkSecret = "fuzz-link-secret";

// Same rule as body_limit_for() in api/server.cc.
std::uint64_t body_limit_for(const http::request_parser<http::string_body>& p) {
  std::string target(p.get().target());
  if (p.get().method() == http::verb::put && target.find("/content") != std::string::npos) {
    return kFileCapBytes;
  }
  return kMaxJsonBodyBytes;
}

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// What normalize_sandbox_path promises (common/sandbox_path.h).
void check_sandbox_path(const std::string& in) {
  auto r = kiln::normalize_sandbox_path(in);
  if (!r) {
    FUZZ_CHECK(!r.status().message().empty());
    return;
  }
  const std::string& p = *r;
  FUZZ_CHECK(!p.empty() && p.front() == '/');
  FUZZ_CHECK(p == "/" || p.back() != '/');
  FUZZ_CHECK(!contains(p, std::string_view("\0", 1)));
  FUZZ_CHECK(!contains(p, "//"));
  FUZZ_CHECK(!contains(p, "/./"));
  FUZZ_CHECK(!contains(p, "/../"));
  FUZZ_CHECK(p.size() < 2 || p.compare(p.size() - 2, 2, "/.") != 0);
  FUZZ_CHECK(p.size() < 3 || p.compare(p.size() - 3, 3, "/..") != 0);
  // Normalising a normalised path changes nothing (and still succeeds).
  auto again = kiln::normalize_sandbox_path(p);
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(*again == p);
}

// A Drive path from a query parameter, as Drive::put/get/remove see it.
void check_drive_path(const std::string& in, bool prefix) {
  auto r =
      prefix ? kiln::storage::normalize_drive_prefix(in) : kiln::storage::normalize_drive_path(in);
  if (!r) return;
  FUZZ_CHECK(!r->empty() && r->front() == '/');
  FUZZ_CHECK(!contains(*r, "//"));
  if (prefix) return;
  // A signed link for a Drive file survives the trip through a URL and
  // kilnd's query parser: verify_link gets back exactly this path.
  const auto expires = std::chrono::system_clock::now() + std::chrono::minutes(10);
  std::string target = kiln::api::sign_link(kLinkSecret, "default", *r, expires);
  http::request<http::string_body> req{http::verb::get, target, 11};
  beast::tcp_stream stream(io_context());
  HttpContext ctx(stream, req);  // must not throw: sign_link's URL is well formed
  FUZZ_CHECK(ctx.segments().size() == 2 && ctx.segments()[1] == "download");
  auto v = kiln::api::verify_link(kLinkSecret, ctx.query("w"), ctx.query("p"), ctx.query("e"),
                                  ctx.query("sig"), std::chrono::system_clock::now());
  FUZZ_CHECK(v.is_ok());
  FUZZ_CHECK(v->workspace == "default");
  FUZZ_CHECK(v->path == *r);
}

// api/drive.cc: flag() and scope_param().
void drive_flag(const std::string& v) {
  if (v.empty() || v == "false" || v == "0" || v == "true" || v == "1") return;
  throw kiln::api::bad_request("'replace' must be true or false");
}
void drive_scope(const std::string& v) {
  auto s = kiln::storage::parse_scope(v.empty() ? "persistent" : v);
  if (!s) throw kiln::api::bad_request(s.status().message());
  FUZZ_CHECK(kiln::storage::parse_scope(kiln::storage::scope_name(*s)).is_ok());
}

std::string json_text(const json& body, const char* key) {
  if (!body.contains(key) || !body[key].is_string()) {
    throw kiln::api::bad_request(std::string("'") + key + "' (a string) is required");
  }
  return body[key];
}

// The route table of api::dispatch (api/routes.cc) and the parsing each
// handler does before it needs a sandbox or storage.
void route(HttpContext& ctx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (seg.empty()) throw kiln::api::not_found("no route for /");
  if (seg[0] == "healthz") return;
  if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "download") {
    auto v = kiln::api::verify_link(kLinkSecret, ctx.query("w"), ctx.query("p"), ctx.query("e"),
                                    ctx.query("sig"), std::chrono::system_clock::now());
    if (!v) throw kiln::api::not_found("download link is invalid or has expired");
    return;
  }
  (void)ctx.request()[http::field::authorization];  // auth: a header lookup
  if (seg[0] == "metrics") return;
  if (seg[0] != "v1" || seg.size() < 2) throw kiln::api::not_found("no such route");
  if (seg[1] == "drive") {
    if (seg.size() == 3 && seg[2] == "content") {
      if (!ctx.has_query("path")) throw kiln::api::bad_request("'path' is required");
      check_drive_path(ctx.query("path"), false);
      if (method == http::verb::put) {
        drive_scope(ctx.query("scope"));
        drive_flag(ctx.query("replace"));
      }
      return;
    }
    if (seg.size() == 2 && method == http::verb::get) {
      check_drive_path(ctx.has_query("prefix") ? ctx.query("prefix") : "/", true);
    }
    return;
  }
  if (seg[1] == "skills" || seg[1] == "usage" || seg[1] == "validate" || seg[1] == "test") {
    if (method == http::verb::post) (void)ctx.json_body({"code", "language", "tests"});
    return;
  }
  if (seg[1] == "actions") {
    json body = ctx.json_body({"action", "arguments"});
    const std::string action = body.value("action", "");
    json args = body.value("arguments", json::object());
    if (!args.is_object()) throw kiln::api::bad_request("'arguments' must be an object");
    if (args.contains("fileBase64") && args["fileBase64"].is_string()) {
      auto bytes = kiln::api::decode_base64(args["fileBase64"]);
      if (bytes) (void)bytes->size();
    }
    return;
  }
  if (seg[1] != "sandboxes") throw kiln::api::not_found("no such route");
  if (seg.size() <= 3 || seg[3] == "timeout") {
    if (method == http::verb::post) {
      (void)ctx.json_body(
          {"template", "timeout_s", "session", "env", "metadata", "network", "limits"});
    }
    return;
  }
  const std::string& what = seg[3];
  if (what == "files") {
    if (ctx.has_query("path")) check_sandbox_path(ctx.query("path"));
    return;
  }
  if (what == "execute" || what == "commands" || what == "contexts") {
    if (method != http::verb::post) return;
    json body = ctx.json_body({"code", "language", "context_id", "timeout_s", "env", "cmd",
                               "stdin", "cwd", "background"});
    if (body.contains("cwd") && !body["cwd"].is_null()) {
      if (!body["cwd"].is_string()) throw kiln::api::bad_request("'cwd' must be a string");
      check_sandbox_path(body["cwd"].get<std::string>());
    }
    (void)body.value("background", false);
    return;
  }
  if (what == "upload" || what == "download") {
    if (method != http::verb::post || seg.size() != 4) throw kiln::api::not_found("no such route");
    json body = ctx.json_body({"drive_path", "sandbox_path", "replace", "scope"});
    check_drive_path(json_text(body, "drive_path"), false);
    check_sandbox_path(json_text(body, "sandbox_path"));
    return;
  }
  throw kiln::api::not_found("no such route: " + what);
}

void exercise(http::request<http::string_body>& req) {
  beast::tcp_stream stream(io_context());
  try {
    HttpContext ctx(stream, req);
    for (const auto& s : ctx.segments()) {
      FUZZ_CHECK(!s.empty());
      FUZZ_CHECK(!contains(s, "/"));
    }
    (void)ctx.stream_mode();
    (void)ctx.keep_alive();
    // The `path` query parameter, whatever the route.
    if (ctx.has_query("path")) {
      const std::string p = ctx.query("path");
      check_sandbox_path(p);
      (void)kiln::storage::normalize_drive_path(p);
    }
    route(ctx);
  } catch (const ApiError& e) {
    FUZZ_CHECK(e.status >= 400 && e.status < 500);
    FUZZ_CHECK(!e.code.empty());
  } catch (const json::exception&) {
    // api/server.cc: "bad JSON field" -> 400.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(std::max(kFileCapBytes, kMaxJsonBodyBytes) + 1);
  parser.eager(false);
  boost::system::error_code ec;
  asio::const_buffer in(data, size);

  // Header.
  while (!parser.is_header_done()) {
    const std::size_t n = parser.put(in, ec);
    in += n;
    // Strict: a Content-Length over the header-phase limit must get a 413,
    // not a silent close (finding 3 in fuzz/README.md).
    if (strict() && ec == http::error::body_limit) {
      std::fprintf(stderr, "header phase refused Content-Length without a 413\n");
      std::abort();
    }
    if (ec) return 0;  // malformed or incomplete: kilnd drops the connection
    if (n == 0) return 0;
  }
  const std::uint64_t limit = body_limit_for(parser);
  parser.body_limit(limit);
  bool too_large = parser.content_length() && *parser.content_length() > limit;

  // Body.
  if (!too_large) {
    parser.eager(true);
    while (!parser.is_done()) {
      const std::size_t n = parser.put(in, ec);
      in += n;
      if (ec == http::error::body_limit) {
        too_large = true;
        break;
      }
      if (ec == http::error::need_more && in.size() == 0) {
        // The client stopped sending; a body that ends at EOF is complete.
        parser.put_eof(ec);
        if (ec) return 0;
        break;
      }
      if (ec) return 0;
      if (n == 0 && in.size() == 0) return 0;
    }
  }

  http::request<http::string_body> req = parser.release();
  if (too_large) {
    req.keep_alive(false);
    // api/server.cc answers 413 through an HttpContext built outside its
    // try/catch, so a target HttpContext refuses escapes the session and the
    // client gets no answer (finding 2 in fuzz/README.md). Strict mode
    // builds it the same way, so the ApiError escapes and libFuzzer reports
    // it; by default the request goes through exercise() like any other.
    if (strict()) {
      beast::tcp_stream stream(io_context());
      HttpContext ctx(stream, req);
      return 0;
    }
  }
  exercise(req);
  return 0;
}
