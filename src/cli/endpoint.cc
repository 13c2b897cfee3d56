#include "cli/endpoint.h"

#include <algorithm>
#include <cctype>

namespace kiln::cli {

Result<Endpoint> parse_endpoint(const std::string& url) {
  std::string rest = url;
  const std::string scheme_sep = "://";
  if (auto pos = rest.find(scheme_sep); pos != std::string::npos) {
    std::string scheme = rest.substr(0, pos);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (scheme == "https")
      return Status::internal("invalid URL '" + url +
                              "': kiln talks plain HTTP to kilnd; use http://");
    if (scheme != "http")
      return Status::internal("invalid URL '" + url + "': the scheme must be http://");
    rest = rest.substr(pos + scheme_sep.size());
  }
  Endpoint ep;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    ep.prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!ep.prefix.empty() && ep.prefix.back() == '/') ep.prefix.pop_back();
  }
  if (rest.find('@') != std::string::npos)
    return Status::internal("invalid URL '" + url +
                            "': credentials go in --api-key-file or KILN_API_KEY, not the URL");
  std::string host_part;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:8420
    auto close = rest.find(']');
    if (close == std::string::npos)
      return Status::internal("invalid URL '" + url + "': unclosed '[' in the host");
    ep.host = rest.substr(1, close - 1);
    host_part = rest.substr(0, close + 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return Status::internal("invalid URL '" + url + "': junk after the host");
    ep.port = rest.empty() ? "" : rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    ep.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    ep.port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    host_part = ep.host;
  }
  if (ep.host.empty()) return Status::internal("invalid URL '" + url + "': no host");
  if (ep.port.empty()) ep.port = "80";
  if (!std::all_of(ep.port.begin(), ep.port.end(),
                   [](unsigned char c) { return std::isdigit(c); }) ||
      ep.port.size() > 5 || std::stoi(ep.port) == 0 || std::stoi(ep.port) > 65535) {
    return Status::internal("invalid URL '" + url + "': bad port '" + ep.port + "'");
  }
  ep.url = "http://" + host_part + ":" + ep.port + ep.prefix;
  return ep;
}

}  // namespace kiln::cli
