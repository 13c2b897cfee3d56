#include "egress/target.h"

#include <uriparser/Uri.h>

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace kiln::egress {

namespace {

std::string range(const UriTextRangeA& r) {
  if (r.first == nullptr || r.afterLast == nullptr) return {};
  return std::string(r.first, r.afterLast);
}

Result<std::uint16_t> port_of(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Status::invalid("bad port");
  }
  const int p = std::stoi(text);
  if (p < 1 || p > 65535) return Status::invalid("bad port");
  return static_cast<std::uint16_t>(p);
}

// Owns a parsed URI.
class Uri {
 public:
  explicit Uri(std::string text) : text_(std::move(text)) {
    const char* err = nullptr;
    ok_ = text_.find('\0') == std::string::npos &&
          uriParseSingleUriA(&uri_, text_.c_str(), &err) == URI_SUCCESS;
  }
  ~Uri() {
    if (ok_) uriFreeUriMembersA(&uri_);
  }
  Uri(const Uri&) = delete;
  Uri& operator=(const Uri&) = delete;
  bool ok() const { return ok_; }
  const UriUriA& get() const { return uri_; }

 private:
  std::string text_;
  UriUriA uri_{};
  bool ok_ = false;
};

}  // namespace

Result<Target> parse_connect_target(std::string_view authority) {
  // "//" + authority is a network-path reference uriparser splits for us.
  Uri u("//" + std::string(authority));
  if (!u.ok() || authority.empty()) return Status::invalid("bad CONNECT target");
  const UriUriA& uri = u.get();
  if (uri.userInfo.first != nullptr || uri.pathHead != nullptr || uri.query.first != nullptr) {
    return Status::invalid("bad CONNECT target");
  }
  Target t;
  t.host = range(uri.hostText);
  if (t.host.empty()) return Status::invalid("CONNECT target has no host");
  auto port = port_of(range(uri.portText));
  if (!port) return Status::invalid("CONNECT target needs host:port");
  t.port = *port;
  return t;
}

Result<Target> parse_proxy_url(std::string_view url) {
  Uri u{std::string(url)};
  if (!u.ok()) return Status::invalid("bad proxy request URL");
  const UriUriA& uri = u.get();
  const std::string scheme = ascii_lower(range(uri.scheme));
  if (scheme != "http") {
    return Status::invalid("only http:// URLs go through the proxy as is; https uses CONNECT");
  }
  if (uri.userInfo.first != nullptr) return Status::invalid("URLs with user info are refused");
  Target t;
  t.host = range(uri.hostText);
  if (t.host.empty()) return Status::invalid("proxy request URL has no host");
  const std::string port_text = range(uri.portText);
  if (port_text.empty()) {
    t.port = 80;
  } else {
    auto port = port_of(port_text);
    if (!port) return port.status();
    t.port = *port;
  }
  // The origin form is the URL's text from its path on: everything after
  // the authority, as the client wrote it.
  const char* from =
      uri.portText.afterLast != nullptr ? uri.portText.afterLast : uri.hostText.afterLast;
  if (uri.hostData.ip6 != nullptr && from != nullptr && *from == ']') ++from;
  std::string rest = from != nullptr ? std::string(from) : std::string();
  if (auto hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  t.origin = rest.empty() || rest[0] != '/' ? "/" + rest : rest;
  return t;
}

Result<Target> parse_mirror_url(std::string_view url) {
  Uri u{std::string(url)};
  if (!u.ok()) return Status::invalid("not a URL: " + std::string(url.substr(0, 128)));
  const UriUriA& uri = u.get();
  const std::string scheme = ascii_lower(range(uri.scheme));
  if (scheme != "http" && scheme != "https") {
    return Status::invalid("a mirror URL must be http:// or https://");
  }
  if (uri.userInfo.first != nullptr) {
    return Status::invalid("a mirror URL must not carry user info (credentials)");
  }
  Target t;
  t.host = range(uri.hostText);
  if (t.host.empty()) return Status::invalid("a mirror URL needs a host");
  const std::string port_text = range(uri.portText);
  if (port_text.empty()) {
    t.port = scheme == "https" ? 443 : 80;
  } else {
    auto port = port_of(port_text);
    if (!port) return port.status();
    t.port = *port;
  }
  return t;
}

}  // namespace kiln::egress
