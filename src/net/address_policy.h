// AddressPolicy: which IP addresses the daemon may open outbound connections
// to when it fetches a user-supplied URL (SSRF defence).
//
// The classifier is pure: it looks at the bits of an address and never
// resolves or connects, so it can be unit-tested without any traffic. The
// fetcher classifies every address a host name resolves to and connects only
// to addresses that passed, so a hostile DNS answer cannot point the daemon
// at loopback, the LAN or the cloud metadata service.
//
// Thread-safety: classify() and the const methods of AddressPolicy are safe
// from any thread; allow() mutates and must not race with readers (the daemon
// builds the policy once from its configuration, then only reads it).
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::net {

// What an address is, as far as outbound fetches care. Everything but
// kPublic is refused unless the allowlist names it.
enum class AddressClass {
  kPublic,              // globally routable unicast
  kLoopback,            // 127/8, ::1
  kUnspecified,         // 0/8, ::
  kPrivate,             // RFC 1918, fc00::/7 (ULA), 64:ff9b:1::/48
  kLinkLocal,           // 169.254/16, fe80::/10
  kMetadata,            // cloud instance metadata (169.254.169.254, fd00:ec2::254, ...)
  kCgnat,               // 100.64/10 shared address space
  kMulticast,           // 224/4, ff00::/8
  kBroadcast,           // 255.255.255.255
  kReserved,            // 240/4, unallocated IPv6, deprecated forms, 6to4 relay anycast
  kDocumentation,       // TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20
  kBenchmarking,        // 198.18/15, 2001:2::/48
  kProtocolAssignment,  // 192.0.0/24, 2001::/23 (IETF protocol assignments)
  kSiteLocal,           // fec0::/10 (deprecated)
};

// A DNS name: 1..253 bytes, labels of 1..63 letters, digits, '-' or '_'.
bool valid_host_name(std::string_view h);

// Short stable name, e.g. "loopback", "link-local", "metadata", "cgnat".
const char* address_class_name(AddressClass c);

// Classifies an address. IPv6 forms that carry an IPv4 address the kernel or
// a translator would actually reach (IPv4-mapped ::ffff:0:0/96, IPv4-compatible
// ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are classified
// by the embedded IPv4 address, so ::ffff:127.0.0.1 is loopback.
AddressClass classify(const boost::asio::ip::address& addr);

// Converts an AF_INET/AF_INET6 sockaddr (e.g. from getaddrinfo or
// getpeername); EAFNOSUPPORT for other families, EINVAL if len is too short.
Result<boost::asio::ip::address> address_from_sockaddr(const sockaddr* sa, socklen_t len);
Result<AddressClass> classify(const sockaddr* sa, socklen_t len);

// An address block, e.g. 10.0.0.0/8 or fd00::/8.
class Cidr {
 public:
  // Accepts "a.b.c.d/n", "v6/n", or a bare address (a /32 or /128). Host bits
  // below the prefix must be zero so a typo like 10.0.0.1/8 is caught.
  static Result<Cidr> parse(std::string_view text);

  // A v4 block also matches the IPv4-mapped IPv6 form of its addresses, so
  // allowlisting 127.0.0.1/32 does not depend on how the resolver answered.
  bool contains(const boost::asio::ip::address& addr) const;
  std::string to_string() const;

 private:
  boost::asio::ip::address network_;
  int prefix_len_ = 0;
};

// The configured allowlist plus the classifier. The default-constructed
// policy allows public addresses only.
class AddressPolicy {
 public:
  AddressPolicy() = default;

  // Adds one allowlist entry: a CIDR or bare IP address (see Cidr::parse),
  // or a host name ("files.internal", case-insensitive, trailing dot
  // ignored). EINVAL for anything else.
  Status allow(std::string_view entry);
  // Builds a policy from configuration; the first bad entry fails it.
  static Result<AddressPolicy> from_allowlist(const std::vector<std::string>& entries);

  // True if `host` (as written in a URL) is an allowlisted host name; then
  // every address it resolves to is allowed.
  bool host_allowed(std::string_view host) const;

  // OK if `addr` may be connected to for a URL naming `host`: the host is
  // allowlisted, or the address is public, or it is inside an allowlisted
  // CIDR. Otherwise EACCES with "127.0.0.1 is a loopback address".
  Status check(const boost::asio::ip::address& addr, std::string_view host = {}) const;

 private:
  std::vector<Cidr> cidrs_;
  std::vector<std::string> hosts_;  // lower case, no trailing dot
};

}  // namespace kiln::net
