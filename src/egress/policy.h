// EgressPolicy: which hosts a sandbox's code may reach through its proxy
// (issue 13). A policy is "none" (nothing), "internet" (any public
// address) or allow/deny rule lists: host names ("pypi.org"), wildcards
// ("*.pythonhosted.org": any name below, not the apex), optional ports
// ("api.example.com:443"), and IPv4/IPv6 CIDRs ("203.0.113.0/24",
// "203.0.113.0/24:443", "[2001:db8::/32]:443").
//
// A connection is decided in two steps: decide_name() before resolution
// (none, a deny rule naming the host), then decide_address() for each
// resolved address (deny CIDRs, the always-refused address classes, then
// an allow rule). Deny wins over allow. Loopback, private, link-local,
// CGNAT, multicast, metadata and every other non-public class are refused
// whatever the policy says, unless the operator's AddressPolicy lists the
// CIDR (kilnd --egress-allow-cidr).
//
// Thread-safety: value types and pure functions.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "net/address_policy.h"

namespace kiln::egress {

struct Rule {
  enum class Kind { kHost, kSuffix, kCidr };
  Kind kind = Kind::kHost;
  std::string host;  // kHost: the name; kSuffix: ".example.org" (with the dot)
  std::optional<net::Cidr> cidr;
  std::uint16_t port = 0;  // 0: any port
  std::string text;        // as given, for the log and the API

  bool matches_name(std::string_view host_lower, std::uint16_t port) const;
  bool matches_address(const boost::asio::ip::address& addr, std::uint16_t port) const;
};

// Parses one rule; EINVAL with the reason.
Result<Rule> parse_rule(std::string_view text);

struct Policy {
  enum class Mode { kNone, kInternet, kRules };
  Mode mode = Mode::kNone;
  std::vector<Rule> allow, deny;

  // "none", "internet" or {"allow": [...], "deny": [...]}, as the API takes it.
  nlohmann::json to_json() const;
};

inline constexpr std::size_t kMaxRules = 256;

// Parses the API's "network" value. EINVAL for anything else: other
// strings, unknown keys, non-string rules, more than kMaxRules rules.
Result<Policy> parse_policy(const nlohmann::json& value);

// OK if every connection `narrow` allows is also allowed by `ceiling`
// (a workspace's operator-set ceiling). Conservative: a rule of `narrow`
// must be covered by one allow rule of the ceiling (same or wider name,
// wildcard, CIDR and port), and every deny rule of the ceiling must be in
// `narrow` too. EINVAL naming the first rule that widens it.
Status within_ceiling(const Policy& narrow, const Policy& ceiling);

struct Decision {
  bool allowed = false;
  std::string rule;    // the rule that decided, or "none"/"internet"/"default"/"address"
  std::string reason;  // for refusals: a sentence for the user
};

// Lower case, no trailing dot; empty if `host` is not a valid DNS name or
// IP literal (brackets removed for IPv6).
std::string normalize_host(std::string_view host);

// Before resolution: refuses for "none" and for deny rules naming the host.
// allowed=true means "go on and resolve", not yet "connect".
Decision decide_name(const Policy& p, std::string_view host_lower, std::uint16_t port);

// For one resolved address of `host_lower`.
Decision decide_address(const Policy& p, const net::AddressPolicy& operator_cidrs,
                        std::string_view host_lower, const boost::asio::ip::address& addr,
                        std::uint16_t port);

// The operator's package mirrors (--pip-index-url, --npm-registry) are
// reachable from every sandbox whatever its policy mode, unless one of the
// sandbox's own deny rules names them; the always-refused address classes
// still apply. A mirror rule is "host:port" of its URL.
Result<Rule> mirror_rule(std::string_view url);
bool is_mirror(const std::vector<Rule>& mirrors, std::string_view host_lower, std::uint16_t port);
// What a connection to `host_lower`:`port` is decided by: `p` itself, or,
// for a mirror, p's deny rules over an "internet" base.
Policy effective_policy(const Policy& p, const std::vector<Rule>& mirrors,
                        std::string_view host_lower, std::uint16_t port);

}  // namespace kiln::egress
