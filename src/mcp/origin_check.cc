#include "mcp/origin_check.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace kiln::mcp {

namespace {

std::string lower(std::string_view s) { return ascii_lower(s); }

bool allowed_name(const std::string& name, const std::vector<std::string>& extra) {
  if (name.empty()) return false;
  if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
  return std::any_of(extra.begin(), extra.end(),
                     [&](const std::string& e) { return !e.empty() && lower(e) == name; });
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace

std::string host_name(std::string_view host) {
  std::string h = lower(host);
  if (h.empty()) return "";
  if (h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string::npos) return "";
    std::string_view rest = std::string_view(h).substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !all_digits(rest.substr(1)))) return "";
    return h.substr(0, close + 1);
  }
  auto colon = h.find(':');
  if (colon != std::string::npos) {
    if (!all_digits(std::string_view(h).substr(colon + 1))) return "";
    h.resize(colon);
  }
  for (unsigned char c : h) {
    if (!(std::isalnum(c) || c == '-' || c == '.')) return "";
  }
  return h;
}

std::string check_host(std::string_view host, const std::vector<std::string>& extra_names) {
  if (host.empty()) return "the Host header is required";
  if (!allowed_name(host_name(host), extra_names))
    return "Host '" + std::string(host) + "' is not allowed (DNS rebinding protection)";
  return "";
}

std::string check_origin(std::string_view origin, const std::vector<std::string>& extra_names) {
  if (origin.empty()) return "";  // not a browser
  std::string o = lower(origin);
  std::string_view rest;
  if (o.rfind("http://", 0) == 0)
    rest = std::string_view(o).substr(7);
  else if (o.rfind("https://", 0) == 0)
    rest = std::string_view(o).substr(8);
  else
    return "Origin '" + std::string(origin) + "' is not allowed (DNS rebinding protection)";
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (!allowed_name(host_name(rest), extra_names))
    return "Origin '" + std::string(origin) + "' is not allowed (DNS rebinding protection)";
  return "";
}

}  // namespace kiln::mcp
