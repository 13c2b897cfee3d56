#include "net/url_fetcher.h"

// GCC 12 reports asio's awaitable frame operator delete as mismatched with
// its operator new (a known false positive: both are asio's own thread-local
// recycling allocator). src/api/server.cc gets the same warning.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uriparser/Uri.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "common/ascii.h"

namespace kiln::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string range(const UriTextRangeA& r) {
  if (r.first == nullptr || r.afterLast == nullptr) return {};
  return std::string(r.first, r.afterLast);
}

bool range_present(const UriTextRangeA& r) { return r.first != nullptr; }

std::string lower(std::string_view s) { return ascii_lower(s); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Owns a parsed UriUriA so every exit path frees it.
class UriHolder {
 public:
  UriHolder() { std::memset(&uri_, 0, sizeof uri_); }
  ~UriHolder() {
    if (parsed_) uriFreeUriMembersA(&uri_);
  }
  UriHolder(const UriHolder&) = delete;
  UriHolder& operator=(const UriHolder&) = delete;

  // Keeps its own copy of the text: the parsed ranges point into it.
  bool parse(std::string text) {
    text_ = std::move(text);
    const char* error_pos = nullptr;
    parsed_ = uriParseSingleUriA(&uri_, text_.c_str(), &error_pos) == URI_SUCCESS;
    return parsed_;
  }
  UriUriA* get() { return &uri_; }
  const UriUriA& operator*() const { return uri_; }

 private:
  std::string text_;
  UriUriA uri_;
  bool parsed_ = false;
};

struct ParsedUrl {
  std::string url;  // the text we were given for this hop
  bool https = false;
  std::string host;         // for the resolver: no brackets, as written
  std::string host_header;  // host[:port], IPv6 in brackets
  std::uint16_t port = 0;
  std::string target;  // path and query
};

Status bad_url(const std::string& url, const std::string& why) {
  return Status::invalid("bad URL " + url + ": " + why);
}

Result<ParsedUrl> parse_url(const std::string& text) {
  // uriparser works on NUL-terminated text; an embedded NUL would make it
  // see a different URL than the one we report.
  if (text.find('\0') != std::string::npos) return bad_url("(with NUL)", "contains NUL");
  UriHolder u;
  if (!u.parse(text)) return bad_url(text, "not a valid URL");
  const UriUriA& uri = *u;
  ParsedUrl p;
  p.url = text;
  const std::string scheme = lower(range(uri.scheme));
  if (scheme != "http" && scheme != "https") {
    return Status::invalid("only http(s) URLs are allowed, not " + text);
  }
  p.https = scheme == "https";
  // user:pass@ is refused outright: it is a classic way to disguise the real
  // host ("http://trusted.example@169.254.169.254/") and we never need it.
  // The URL is left out of this message: it holds a password more often
  // than not, and messages end up in logs.
  if (range_present(uri.userInfo)) {
    return Status::invalid("URLs with user info (user@host) are not allowed");
  }
  if (uri.hostData.ipFuture.first != nullptr) return bad_url(text, "IPvFuture hosts unsupported");
  p.host = range(uri.hostText);
  if (p.host.empty()) return bad_url(text, "no host");
  // Percent-encoded host names would reach getaddrinfo undecoded; nobody
  // legitimately needs them, so say no rather than guess.
  if (p.host.find('%') != std::string::npos) return bad_url(text, "percent-encoded host");
  const bool ip6 = uri.hostData.ip6 != nullptr;
  const std::string port_text = range(uri.portText);
  int port = p.https ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(),
                                             [](unsigned char c) { return std::isdigit(c); })) {
      return bad_url(text, "bad port");
    }
    port = std::stoi(port_text);
    if (port < 1 || port > 65535) return bad_url(text, "bad port");
  }
  p.port = static_cast<std::uint16_t>(port);
  p.host_header = ip6 ? "[" + p.host + "]" : p.host;
  if (port != (p.https ? 443 : 80)) p.host_header += ":" + std::to_string(port);

  std::string target;
  for (const UriPathSegmentA* s = uri.pathHead; s != nullptr; s = s->next) {
    target += "/" + range(s->text);
  }
  if (target.empty()) target = "/";
  if (range_present(uri.query)) target += "?" + range(uri.query);
  p.target = std::move(target);
  return p;
}

// Resolves a redirect's Location against the URL that answered it.
Result<std::string> resolve_reference(const std::string& base, const std::string& location) {
  if (location.find('\0') != std::string::npos) return bad_url(base, "redirect with NUL");
  UriHolder b, rel;
  if (!b.parse(base)) return bad_url(base, "not a valid URL");
  if (!rel.parse(location)) {
    return Status::invalid("redirect from " + base + " to an invalid URL: " + location);
  }
  UriUriA abs;
  if (uriAddBaseUriA(&abs, rel.get(), b.get()) != URI_SUCCESS) {
    return Status::invalid("cannot resolve redirect " + location + " against " + base);
  }
  // The fragment is a client-side thing; never send it or keep it.
  abs.fragment.first = abs.fragment.afterLast = nullptr;
  int chars = 0;
  std::string out;
  if (uriToStringCharsRequiredA(&abs, &chars) == URI_SUCCESS) {
    out.resize(static_cast<std::size_t>(chars) + 1);
    if (uriToStringA(out.data(), &abs, chars + 1, nullptr) != URI_SUCCESS) out.clear();
    out.resize(std::strlen(out.c_str()));
  }
  uriFreeUriMembersA(&abs);
  if (out.empty()) return Status::invalid("cannot resolve redirect " + location);
  return out;
}

Status timed_out(const std::string& url, std::chrono::milliseconds timeout) {
  return Status::unprocessable("fetching " + url + ": timed out after " +
                               std::to_string(timeout.count()) + " ms");
}

// Resolves host:port, giving up at `deadline`. The asio resolver runs
// getaddrinfo on a private thread that cannot be interrupted, so instead of
// waiting on it we wait on a timer that the resolve completion cancels; the
// shared state keeps the resolver alive until its late answer arrives.
awaitable<Result<std::vector<tcp::endpoint>>> resolve(const ParsedUrl& u,
                                                      Clock::time_point deadline,
                                                      std::chrono::milliseconds timeout) {
  struct State {
    explicit State(const asio::any_io_executor& ex) : resolver(ex), done(ex) {}
    tcp::resolver resolver;
    asio::steady_timer done;
    std::optional<boost::system::error_code> ec;
    tcp::resolver::results_type results;
  };
  auto ex = co_await asio::this_coro::executor;
  auto st = std::make_shared<State>(ex);
  st->done.expires_at(deadline);
  st->resolver.async_resolve(u.host, std::to_string(u.port), tcp::resolver::numeric_service,
                             [st](boost::system::error_code ec, tcp::resolver::results_type r) {
                               st->ec = ec;
                               st->results = std::move(r);
                               st->done.cancel();
                             });
  boost::system::error_code wait_ec;
  co_await st->done.async_wait(asio::redirect_error(use_awaitable, wait_ec));
  if (!st->ec) {
    st->resolver.cancel();
    co_return timed_out(u.url, timeout);
  }
  if (*st->ec) {
    co_return Status::of(
        ErrorKind::kUnprocessable,
        "fetching " + u.url + ": cannot resolve " + u.host + ": " + st->ec->message(),
        EHOSTUNREACH);
  }
  std::vector<tcp::endpoint> eps;
  for (const auto& e : st->results) eps.push_back(e.endpoint());
  if (eps.empty()) {
    co_return Status::of(ErrorKind::kUnprocessable,
                         "fetching " + u.url + ": " + u.host + " has no addresses", EHOSTUNREACH);
  }
  co_return eps;
}

// What one request/response exchange produced.
struct HopOutcome {
  int status = 0;
  std::string location;  // set for redirects
  std::string content_type;
  std::string content_disposition;
  std::string body;
};

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Status io_error(const ParsedUrl& u, const char* what, const boost::system::error_code& ec,
                std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) return timed_out(u.url, timeout);
  const int err = ec.category() == boost::system::system_category() ? ec.value() : EIO;
  return Status::of(ErrorKind::kUnprocessable,
                    "fetching " + u.url + ": " + what + ": " + ec.message(), err);
}

template <typename Stream>
awaitable<Result<HopOutcome>> exchange(Stream& stream, const ParsedUrl& u,
                                       const FetchOptions& opts) {
  boost::system::error_code ec;
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host_header);
  req.set(http::field::user_agent, opts.user_agent);
  req.set(http::field::accept, "*/*");
  // No compression: the byte cap must be a cap on what we store, and a
  // gzip bomb would defeat a cap on what crosses the wire.
  req.set(http::field::accept_encoding, "identity");
  req.set(http::field::connection, "close");
  co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return io_error(u, "sending request", ec, opts.timeout);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  // No real body limit while reading the header: a redirect may announce a
  // big body we never read. The cap is applied below, before any body byte.
  // (Not boost::none: Beast 1.74 compares the length against the optional
  // and an empty optional counts as smaller than any length.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return io_error(u, "reading response header", ec, opts.timeout);

  HopOutcome out;
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  if (is_redirect(out.status)) {
    out.location = std::string(res[http::field::location]);
    co_return out;
  }
  if (out.status < 200 || out.status > 299) {
    co_return Status::unprocessable("fetching " + u.url + ": server answered " +
                                    std::to_string(out.status) + " " + std::string(res.reason()));
  }
  if (parser.content_length() && *parser.content_length() > opts.max_bytes) {
    co_return Status::too_large("fetching " + u.url + ": body of " +
                                std::to_string(*parser.content_length()) + " bytes is over the " +
                                std::to_string(opts.max_bytes) + "-byte limit");
  }
  out.content_type = std::string(res[http::field::content_type]);
  out.content_disposition = std::string(res[http::field::content_disposition]);
  // Chunked and close-delimited bodies are counted as they stream in.
  parser.body_limit(opts.max_bytes);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  if (ec == http::error::body_limit) {
    co_return Status::too_large("fetching " + u.url + ": body is over the " +
                                std::to_string(opts.max_bytes) + "-byte limit");
  }
  if (ec) co_return io_error(u, "reading body", ec, opts.timeout);
  out.body = std::move(parser.get().body());
  co_return out;
}

awaitable<Result<HopOutcome>> fetch_plain(const ParsedUrl& u, const std::vector<tcp::endpoint>& eps,
                                          Clock::time_point deadline, const FetchOptions& opts) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_at(deadline);
  boost::system::error_code ec;
  // Connect to the addresses we checked, in resolver order; nothing here
  // resolves the name again.
  co_await stream.async_connect(eps, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return io_error(u, "connecting", ec, opts.timeout);
  Result<HopOutcome> r = co_await exchange(stream, u, opts);
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return r;
}

awaitable<Result<HopOutcome>> fetch_tls(const ParsedUrl& u, const std::vector<tcp::endpoint>& eps,
                                        Clock::time_point deadline, const FetchOptions& opts) {
  boost::system::error_code ec;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_default_verify_paths(ec);
  if (ec) co_return Status::internal("loading the system CA store: " + ec.message());
  if (!opts.extra_ca_pem.empty()) {
    ctx.add_certificate_authority(asio::buffer(opts.extra_ca_pem), ec);
    if (ec) co_return Status::invalid("loading extra CA certificates: " + ec.message());
  }
  ctx.set_verify_mode(ssl::verify_peer);

  beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, ctx);
  boost::system::error_code addr_ec;
  asio::ip::make_address(u.host, addr_ec);
  const bool host_is_ip = !addr_ec;
  // SNI carries names only (RFC 6066); an IP literal is checked against the
  // certificate's IP SANs by host_name_verification below.
  if (!host_is_ip && !SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str())) {
    co_return Status::internal("fetching " + u.url + ": cannot set SNI");
  }
  stream.set_verify_callback(ssl::host_name_verification(u.host));

  beast::get_lowest_layer(stream).expires_at(deadline);
  co_await beast::get_lowest_layer(stream).async_connect(eps,
                                                         asio::redirect_error(use_awaitable, ec));
  if (ec) co_return io_error(u, "connecting", ec, opts.timeout);
  co_await stream.async_handshake(ssl::stream_base::client,
                                  asio::redirect_error(use_awaitable, ec));
  if (ec) {
    if (ec == beast::error::timeout) co_return timed_out(u.url, opts.timeout);
    std::string why = ec.message();
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) why += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    co_return Status::unprocessable("fetching " + u.url + ": TLS handshake: " + why);
  }
  Result<HopOutcome> r = co_await exchange(stream, u, opts);
  // No close_notify round trip: we asked for Connection: close and have the
  // whole body (length- or chunk-delimited, or EOF checked by the parser).
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return r;
}

awaitable<Result<FetchResult>> fetch_impl(const std::string& url, const FetchOptions& opts) {
  const Clock::time_point deadline = Clock::now() + opts.timeout;
  std::string current = url;
  for (int redirects = 0;; ++redirects) {
    Result<ParsedUrl> parsed = parse_url(current);
    if (!parsed) co_return parsed.status();
    const ParsedUrl& u = *parsed;
    const std::string shown = redirects == 0 ? current : current + " (redirected from " + url + ")";

    Result<std::vector<tcp::endpoint>> eps = co_await resolve(u, deadline, opts.timeout);
    if (!eps) co_return eps.status();
    // A fast resolver can beat the deadline timer; check the clock itself
    // before every connection.
    if (Clock::now() >= deadline) {
      co_return Status::unprocessable("fetching " + shown + " timed out");
    }
    // Every answer must pass: an attacker's name can return one public and
    // one internal address and let connection order pick the internal one.
    for (const tcp::endpoint& ep : *eps) {
      Status s = opts.policy.check(ep.address(), u.host);
      if (!s) co_return Status::invalid("refusing to fetch " + shown + ": " + s.message());
    }

    // Not a ?: with co_await in both arms: GCC 12 mis-destroys the
    // temporaries of such a conditional.
    std::optional<Result<HopOutcome>> hop_or;
    if (u.https) {
      hop_or.emplace(co_await fetch_tls(u, *eps, deadline, opts));
    } else {
      hop_or.emplace(co_await fetch_plain(u, *eps, deadline, opts));
    }
    Result<HopOutcome>& hop = *hop_or;
    if (!hop) co_return hop.status();
    if (is_redirect(hop->status)) {
      if (hop->location.empty()) {
        co_return Status::unprocessable("fetching " + shown + ": redirect " +
                                        std::to_string(hop->status) + " without a Location");
      }
      if (redirects >= opts.max_redirects) {
        co_return Status::of(
            ErrorKind::kUnprocessable,
            "fetching " + url + ": more than " + std::to_string(opts.max_redirects) + " redirects",
            ELOOP);
      }
      Result<std::string> next = resolve_reference(current, hop->location);
      if (!next) co_return next.status();
      current = *next;
      continue;
    }
    FetchResult r;
    r.final_url = current;
    r.status = hop->status;
    r.content_type = std::move(hop->content_type);
    r.body = std::move(hop->body);
    r.file_name = file_name_for(hop->content_disposition, current);
    co_return r;
  }
}

// Appends a code point as UTF-8 (for ISO-8859-1 filename* values).
void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid.
std::size_t utf8_seq_len(std::string_view s, std::size_t i) {
  const unsigned char c = s[i];
  std::size_t n;
  unsigned cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const unsigned char d = s[i + k];
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

}  // namespace

awaitable<Result<FetchResult>> fetch_url(std::string url, FetchOptions opts) {
  // Nothing below should throw, but Beast/asio/OpenSSL can on allocation or
  // context failure; no exception may cross the module border.
  try {
    co_return co_await fetch_impl(url, opts);
  } catch (const std::exception& e) {
    co_return Status::internal("fetching " + url + ": " + e.what());
  }
}

std::string file_name_from_content_disposition(std::string_view header) {
  // disposition-type *( ";" param ), param = token "=" ( token | quoted-string ),
  // filename* = charset "'" [language] "'" percent-encoded (RFC 6266/8187).
  std::string plain, extended;
  bool have_extended = false;
  std::size_t i = header.find(';');
  while (i != std::string_view::npos && i < header.size()) {
    ++i;  // past ';'
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
    const std::size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name = lower(std::string(header.substr(i, eq - i)));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    std::size_t j = eq + 1;
    while (j < header.size() && (header[j] == ' ' || header[j] == '\t')) ++j;
    std::string value;
    if (j < header.size() && header[j] == '"') {
      ++j;
      while (j < header.size() && header[j] != '"') {
        if (header[j] == '\\' && j + 1 < header.size()) ++j;
        value.push_back(header[j++]);
      }
      if (j < header.size()) ++j;  // closing quote
      i = header.find(';', j);
    } else {
      const std::size_t end = header.find(';', j);
      value = std::string(
          header.substr(j, end == std::string_view::npos ? header.size() - j : end - j));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      i = end;
    }
    if (name == "filename") {
      plain = value;
    } else if (name == "filename*") {
      const std::size_t q1 = value.find('\'');
      const std::size_t q2 = q1 == std::string::npos ? q1 : value.find('\'', q1 + 1);
      if (q2 == std::string::npos) continue;
      const std::string charset = lower(value.substr(0, q1));
      const std::string decoded = percent_decode(value.substr(q2 + 1));
      if (charset == "utf-8") {
        extended = decoded;
        have_extended = true;
      } else if (charset == "iso-8859-1") {
        extended.clear();
        for (unsigned char c : decoded) append_utf8(extended, c);
        have_extended = true;
      }
    }
  }
  return have_extended ? extended : plain;
}

std::string sanitize_file_name(std::string_view name) {
  const std::size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const unsigned char c = name[i];
    if (c < 0x20 || c == 0x7f) {  // NUL, newlines and other controls
      ++i;
      continue;
    }
    const std::size_t n = utf8_seq_len(name, i);
    if (n == 0) {  // invalid UTF-8 would break the JSON we report names in
      out.push_back('_');
      ++i;
      continue;
    }
    out.append(name.substr(i, n));
    i += n;
  }
  const std::size_t first = out.find_first_not_of(' ');
  const std::size_t last = out.find_last_not_of(' ');
  out = first == std::string::npos ? "" : out.substr(first, last - first + 1);
  if (out.size() > 255) {
    std::size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
  }
  if (out.empty() || out == "." || out == "..") return "download";
  return out;
}

std::string file_name_for(std::string_view content_disposition, std::string_view url) {
  std::string name = file_name_from_content_disposition(content_disposition);
  if (sanitize_file_name(name) == "download") {
    name.clear();
    UriHolder u;
    if (u.parse(std::string(url))) {
      // The last segment only: "https://h/reports/" names a folder, not a
      // file, and gets the default name.
      for (const UriPathSegmentA* s = (*u).pathHead; s != nullptr; s = s->next) {
        name = percent_decode(range(s->text));
      }
    }
  }
  return sanitize_file_name(name);
}

}  // namespace kiln::net
