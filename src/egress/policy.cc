#include "egress/policy.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"
#include "egress/target.h"

namespace kiln::egress {

namespace ip = boost::asio::ip;
using nlohmann::json;

namespace {

Result<std::uint16_t> parse_port(std::string_view text, std::string_view rule) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Status::invalid("bad rule \"" + std::string(rule) + "\": bad port");
  }
  const int port = std::stoi(std::string(text));
  if (port < 1 || port > 65535) {
    return Status::invalid("bad rule \"" + std::string(rule) + "\": port out of range");
  }
  return static_cast<std::uint16_t>(port);
}

bool covers(const Rule& wide, const Rule& narrow) {
  if (wide.port != 0 && wide.port != narrow.port) return false;
  using K = Rule::Kind;
  switch (wide.kind) {
    case K::kHost:
      return narrow.kind == K::kHost && narrow.host == wide.host;
    case K::kSuffix:
      if (narrow.kind == K::kHost) return narrow.host.ends_with(wide.host);
      if (narrow.kind == K::kSuffix) return narrow.host.ends_with(wide.host);
      return false;
    case K::kCidr: {
      if (narrow.kind != K::kCidr) return false;
      // The narrow block's network address and its prefix must fit.
      const std::string n = narrow.cidr->to_string();
      const std::string w = wide.cidr->to_string();
      const int nlen = std::stoi(n.substr(n.find('/') + 1));
      const int wlen = std::stoi(w.substr(w.find('/') + 1));
      return nlen >= wlen && wide.cidr->contains(ip::make_address(n.substr(0, n.find('/'))));
    }
  }
  return false;
}

json rules_json(const std::vector<Rule>& rules) {
  json a = json::array();
  for (const Rule& r : rules) a.push_back(r.text);
  return a;
}

Result<std::vector<Rule>> parse_rules(const json& list, const char* name) {
  if (!list.is_array()) return Status::invalid(std::string("network.") + name + " must be a list");
  if (list.size() > kMaxRules) {
    return Status::invalid(std::string("network.") + name + " has more than " +
                           std::to_string(kMaxRules) + " rules");
  }
  std::vector<Rule> out;
  for (const json& v : list) {
    if (!v.is_string()) return Status::invalid(std::string("network.") + name + ": not a string");
    Result<Rule> r = parse_rule(v.get<std::string>());
    if (!r) return r.status();
    out.push_back(*r);
  }
  return out;
}

}  // namespace

std::string normalize_host(std::string_view host) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!h.empty() && h.back() == '.') h.pop_back();
  h = ascii_lower(h);
  boost::system::error_code ec;
  const ip::address a = ip::make_address(h, ec);
  if (!ec) return a.to_string();
  return net::valid_host_name(h) ? h : std::string();
}

bool Rule::matches_name(std::string_view host_lower, std::uint16_t p) const {
  if (port != 0 && port != p) return false;
  if (kind == Kind::kHost) return host_lower == host;
  if (kind == Kind::kSuffix) return host_lower.size() > host.size() && host_lower.ends_with(host);
  return false;
}

bool Rule::matches_address(const ip::address& addr, std::uint16_t p) const {
  if (port != 0 && port != p) return false;
  return kind == Kind::kCidr && cidr->contains(addr);
}

Result<Rule> parse_rule(std::string_view text) {
  std::string t(text);
  Rule r;
  r.text = t;
  if (t.empty() || t.size() > 300) return Status::invalid("bad rule \"" + t + "\": empty or long");
  std::string body = t;
  // Port: "[v6 or v6/n]:port", or a last ":port" when the rest has no ':'.
  if (body.front() == '[') {
    const std::size_t close = body.find(']');
    if (close == std::string::npos) return Status::invalid("bad rule \"" + t + "\": no ']'");
    if (close + 1 < body.size()) {
      if (body[close + 1] != ':') return Status::invalid("bad rule \"" + t + "\": junk after ']'");
      Result<std::uint16_t> port = parse_port(body.substr(close + 2), t);
      if (!port) return port.status();
      r.port = *port;
    }
    body = body.substr(1, close - 1);
  } else if (const std::size_t colon = body.rfind(':');
             colon != std::string::npos && body.find(':') == colon) {
    Result<std::uint16_t> port = parse_port(body.substr(colon + 1), t);
    if (!port) return port.status();
    r.port = *port;
    body = body.substr(0, colon);
  }
  boost::system::error_code ec;
  const bool ipish = body.find('/') != std::string::npos || body.find(':') != std::string::npos ||
                     (ip::make_address(body, ec), !ec);
  if (ipish) {
    Result<net::Cidr> c = net::Cidr::parse(body);
    if (!c) return Status::invalid("bad rule \"" + t + "\": " + c.status().message());
    r.kind = Rule::Kind::kCidr;
    r.cidr = *c;
    return r;
  }
  if (body.starts_with("*.")) {
    const std::string rest = normalize_host(body.substr(2));
    boost::system::error_code lit;
    if (rest.empty() || (ip::make_address(rest, lit), !lit)) {
      return Status::invalid("bad rule \"" + t + "\": \"*.\" needs a domain name after it");
    }
    r.kind = Rule::Kind::kSuffix;
    r.host = "." + rest;
    return r;
  }
  if (body.find('*') != std::string::npos) {
    return Status::invalid("bad rule \"" + t + "\": '*' only as a leading \"*.\"");
  }
  r.host = normalize_host(body);
  if (r.host.empty()) return Status::invalid("bad rule \"" + t + "\": not a host name or CIDR");
  r.kind = Rule::Kind::kHost;
  return r;
}

json Policy::to_json() const {
  if (mode == Mode::kNone) return "none";
  if (mode == Mode::kInternet) return "internet";
  return {{"allow", rules_json(allow)}, {"deny", rules_json(deny)}};
}

Result<Policy> parse_policy(const json& value) {
  Policy p;
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    if (s == "none") return p;
    if (s == "internet") {
      p.mode = Policy::Mode::kInternet;
      return p;
    }
    return Status::invalid("network must be \"none\", \"internet\" or {\"allow\": [...]}, not \"" +
                           s.substr(0, 64) + "\"");
  }
  if (!value.is_object()) {
    return Status::invalid("network must be \"none\", \"internet\" or {\"allow\": [...]}");
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.key() != "allow" && it.key() != "deny") {
      return Status::invalid("network: unknown key \"" + it.key().substr(0, 64) + "\"");
    }
  }
  p.mode = Policy::Mode::kRules;
  if (auto a = value.find("allow"); a != value.end()) {
    auto r = parse_rules(*a, "allow");
    if (!r) return r.status();
    p.allow = std::move(*r);
  }
  if (auto d = value.find("deny"); d != value.end()) {
    auto r = parse_rules(*d, "deny");
    if (!r) return r.status();
    p.deny = std::move(*r);
  }
  return p;
}

Status within_ceiling(const Policy& narrow, const Policy& ceiling) {
  using M = Policy::Mode;
  if (narrow.mode == M::kNone) return Status::ok();
  if (ceiling.mode == M::kNone) {
    return Status::invalid("network: the workspace's ceiling is \"none\"");
  }
  if (narrow.mode == M::kInternet && ceiling.mode != M::kInternet) {
    return Status::invalid("network: \"internet\" is wider than the workspace's ceiling");
  }
  if (ceiling.mode == M::kRules) {
    for (const Rule& r : narrow.allow) {
      const bool ok = std::any_of(ceiling.allow.begin(), ceiling.allow.end(),
                                  [&](const Rule& w) { return covers(w, r); });
      if (!ok) {
        return Status::invalid("network: \"" + r.text +
                               "\" is not allowed by the workspace's ceiling");
      }
    }
  }
  for (const Rule& d : ceiling.deny) {
    const bool kept = std::any_of(narrow.deny.begin(), narrow.deny.end(),
                                  [&](const Rule& n) { return n.text == d.text; });
    if (!kept) {
      return Status::invalid("network: the workspace's ceiling denies \"" + d.text +
                             "\"; keep it in network.deny");
    }
  }
  return Status::ok();
}

Decision decide_name(const Policy& p, std::string_view host, std::uint16_t port) {
  if (p.mode == Policy::Mode::kNone) {
    return {false, "none", "this sandbox has no network access (network: \"none\")"};
  }
  for (const Rule& r : p.deny) {
    if (r.matches_name(host, port)) {
      return {false, r.text, std::string(host) + " is denied by rule \"" + r.text + "\""};
    }
  }
  return {true, "", ""};
}

Decision decide_address(const Policy& p, const net::AddressPolicy& operator_cidrs,
                        std::string_view host, const ip::address& addr, std::uint16_t port) {
  Decision name = decide_name(p, host, port);
  if (!name.allowed) return name;
  for (const Rule& r : p.deny) {
    if (r.matches_address(addr, port)) {
      return {false, r.text,
              addr.to_string() + " is denied by rule \"" + r.text + "\" (for " + std::string(host) +
                  ")"};
    }
  }
  if (Status s = operator_cidrs.check(addr); !s) {
    return {false, "address", s.message() + " (for " + std::string(host) + "), always refused"};
  }
  if (p.mode == Policy::Mode::kInternet) return {true, "internet", ""};
  for (const Rule& r : p.allow) {
    if (r.matches_name(host, port) || r.matches_address(addr, port)) return {true, r.text, ""};
  }
  return {false, "default",
          std::string(host) + ":" + std::to_string(port) +
              " is not in this sandbox's network allow list"};
}

Result<Rule> mirror_rule(std::string_view url) {
  auto target = parse_mirror_url(url);
  if (!target) return target.status();
  const std::string host = normalize_host(target->host);
  if (host.empty()) return Status::invalid("a mirror URL needs a valid host name");
  const std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  auto rule = parse_rule(authority + ":" + std::to_string(target->port));
  if (!rule) return rule.status();
  rule->text = "mirror " + authority + ":" + std::to_string(target->port);
  return rule;
}

bool is_mirror(const std::vector<Rule>& mirrors, std::string_view host_lower, std::uint16_t port) {
  boost::system::error_code ec;
  const ip::address literal = ip::make_address(std::string(host_lower), ec);
  return std::any_of(mirrors.begin(), mirrors.end(), [&](const Rule& m) {
    return m.matches_name(host_lower, port) || (!ec && m.matches_address(literal, port));
  });
}

Policy effective_policy(const Policy& p, const std::vector<Rule>& mirrors,
                        std::string_view host_lower, std::uint16_t port) {
  if (!is_mirror(mirrors, host_lower, port)) return p;
  Policy m;
  m.mode = Policy::Mode::kInternet;
  m.deny = p.deny;
  return m;
}

}  // namespace kiln::egress
