// Where kilnd is: the http:// URL of its listener, split for the client.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace kiln::cli {

struct Endpoint {
  std::string host;    // "127.0.0.1", "localhost", "::1" (no brackets)
  std::string port;    // "8420"
  std::string prefix;  // "" or "/kiln" when kilnd sits behind a path prefix
  std::string url;     // normalized, for messages: "http://127.0.0.1:8420"
};

// Parses "http://host[:port][/prefix]" (a bare "host:port" means http).
// https:// is refused with a message that says why: kilnd serves plain
// HTTP, and a TLS proxy in front of it is the user's to talk to.
Result<Endpoint> parse_endpoint(const std::string& url);

}  // namespace kiln::cli
