// DNS-rebinding defence for /mcp: a web page that got a victim's browser to
// resolve its own name to 127.0.0.1 sends requests whose Host is that name
// and whose Origin is that page. Both are checked before anything else.
//
// Host: its hostname (port ignored) must be an allowed name. Origin, when
// present, must be http(s) on an allowed name (any port); "null" and other
// schemes are refused. Allowed names: localhost, 127.0.0.1, [::1], plus the
// names the daemon is configured with (its listen address, --mcp-allow-host).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln::mcp {

// The hostname of a Host header value, lower-case, port removed
// ("[::1]:8420" -> "[::1]"); "" when malformed.
std::string host_name(std::string_view host);

// "" when allowed, else why not (for the 403 message).
std::string check_host(std::string_view host, const std::vector<std::string>& extra_names);
std::string check_origin(std::string_view origin, const std::vector<std::string>& extra_names);

}  // namespace kiln::mcp
