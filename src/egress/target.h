// Where a proxy request wants to go: the authority of a CONNECT
// ("host:port", "[v6]:port") or the absolute URL of a plain-HTTP proxy
// request ("http://host[:port]/path?q"), parsed with uriparser.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln::egress {

struct Target {
  std::string host;  // as written, brackets removed
  std::uint16_t port = 0;
  std::string origin;  // plain HTTP: path and query for the origin server
};

// EINVAL for anything but host:port with a port in 1..65535.
Result<Target> parse_connect_target(std::string_view authority);
// EINVAL for anything but an absolute http:// URL without user info.
Result<Target> parse_proxy_url(std::string_view url);
// A package mirror the operator names (--pip-index-url, --npm-registry):
// an http:// or https:// URL with a host and no user info; the port
// defaults to the scheme's.
Result<Target> parse_mirror_url(std::string_view url);

}  // namespace kiln::egress
