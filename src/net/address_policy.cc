#include "net/address_policy.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "common/ascii.h"

namespace kiln::net {

namespace ip = boost::asio::ip;

const char* address_class_name(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kMetadata:
      return "metadata";
    case AddressClass::kCgnat:
      return "cgnat";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kBroadcast:
      return "broadcast";
    case AddressClass::kReserved:
      return "reserved";
    case AddressClass::kDocumentation:
      return "documentation";
    case AddressClass::kBenchmarking:
      return "benchmarking";
    case AddressClass::kProtocolAssignment:
      return "protocol-assignment";
    case AddressClass::kSiteLocal:
      return "site-local";
  }
  return "unknown";
}

namespace {

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

bool in_v4(std::uint32_t a, std::uint32_t net, int prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == net;
}

AddressClass classify_v4(std::uint32_t a) {
  // Well-known cloud metadata endpoints first: they sit inside ranges that
  // would otherwise get a vaguer name, and operators grep logs for them.
  if (a == v4(169, 254, 169, 254) ||  // AWS, GCP, Azure, OpenStack, ...
      a == v4(169, 254, 170, 2) ||    // AWS ECS task metadata
      a == v4(100, 100, 100, 200)) {  // Alibaba Cloud
    return AddressClass::kMetadata;
  }
  if (in_v4(a, v4(0, 0, 0, 0), 8)) return AddressClass::kUnspecified;
  if (in_v4(a, v4(10, 0, 0, 0), 8)) return AddressClass::kPrivate;
  if (in_v4(a, v4(100, 64, 0, 0), 10)) return AddressClass::kCgnat;
  if (in_v4(a, v4(127, 0, 0, 0), 8)) return AddressClass::kLoopback;
  if (in_v4(a, v4(169, 254, 0, 0), 16)) return AddressClass::kLinkLocal;
  if (in_v4(a, v4(172, 16, 0, 0), 12)) return AddressClass::kPrivate;
  if (in_v4(a, v4(192, 0, 0, 0), 24)) return AddressClass::kProtocolAssignment;
  if (in_v4(a, v4(192, 0, 2, 0), 24)) return AddressClass::kDocumentation;
  // 6to4 relay anycast (RFC 7526 deprecated it); nothing to fetch there.
  if (in_v4(a, v4(192, 88, 99, 0), 24)) return AddressClass::kReserved;
  if (in_v4(a, v4(192, 168, 0, 0), 16)) return AddressClass::kPrivate;
  if (in_v4(a, v4(198, 18, 0, 0), 15)) return AddressClass::kBenchmarking;
  if (in_v4(a, v4(198, 51, 100, 0), 24)) return AddressClass::kDocumentation;
  if (in_v4(a, v4(203, 0, 113, 0), 24)) return AddressClass::kDocumentation;
  if (in_v4(a, v4(224, 0, 0, 0), 4)) return AddressClass::kMulticast;
  if (a == v4(255, 255, 255, 255)) return AddressClass::kBroadcast;
  if (in_v4(a, v4(240, 0, 0, 0), 4)) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

std::uint32_t v4_at(const ip::address_v6::bytes_type& b, int off) {
  return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) |
         (std::uint32_t{b[off + 2]} << 8) | std::uint32_t{b[off + 3]};
}

bool all_zero(const ip::address_v6::bytes_type& b, int from, int to) {
  return std::all_of(b.begin() + from, b.begin() + to, [](unsigned char c) { return c == 0; });
}

bool has_prefix(const ip::address_v6::bytes_type& b, std::initializer_list<unsigned char> p) {
  return std::equal(p.begin(), p.end(), b.begin());
}

AddressClass classify_v6(const ip::address_v6& addr) {
  const ip::address_v6::bytes_type b = addr.to_bytes();
  if (all_zero(b, 0, 16)) return AddressClass::kUnspecified;
  if (all_zero(b, 0, 15) && b[15] == 1) return AddressClass::kLoopback;

  // IPv4-mapped ::ffff:a.b.c.d: a dual-stack socket connecting here reaches
  // a.b.c.d over IPv4, so it is exactly as dangerous as a.b.c.d.
  if (all_zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b, 12));
  // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291): treat like its v4
  // address, and never as public since no sane server lives there.
  if (all_zero(b, 0, 12)) {
    AddressClass c = classify_v4(v4_at(b, 12));
    return c == AddressClass::kPublic ? AddressClass::kReserved : c;
  }
  // NAT64 well-known prefix 64:ff9b::/96: the translator connects to the
  // embedded v4 address on our behalf.
  if (has_prefix(b, {0x00, 0x64, 0xff, 0x9b}) && all_zero(b, 4, 12)) {
    return classify_v4(v4_at(b, 12));
  }
  // NAT64 local-use prefix (RFC 8215): the embedding is site-defined, so we
  // cannot tell where it leads; it is local by definition.
  if (has_prefix(b, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) return AddressClass::kPrivate;
  // Discard-only 100::/64.
  if (has_prefix(b, {0x01, 0x00}) && all_zero(b, 2, 8)) return AddressClass::kReserved;

  if (has_prefix(b, {0x20, 0x01, 0x00, 0x02, 0x00, 0x00})) return AddressClass::kBenchmarking;
  // Teredo 2001::/32: the client's v4 address is stored inverted in the
  // last 32 bits; a relay would deliver there.
  if (has_prefix(b, {0x20, 0x01, 0x00, 0x00})) {
    return classify_v4(~v4_at(b, 12));
  }
  if (has_prefix(b, {0x20, 0x01, 0x0d, 0xb8})) return AddressClass::kDocumentation;
  // Rest of 2001::/23, IETF protocol assignments (ORCHID, AMT, PCP, ...).
  if (b[0] == 0x20 && b[1] == 0x01 && (b[2] & 0xfe) == 0x00) {
    return AddressClass::kProtocolAssignment;
  }
  // 6to4 2002:a.b.c.d::/48: a 6to4 relay forwards to the embedded v4 host.
  if (has_prefix(b, {0x20, 0x02})) return classify_v4(v4_at(b, 2));
  // 3fff::/20, documentation (RFC 9637).
  if (b[0] == 0x3f && (b[1] & 0xf0) == 0xf0) return AddressClass::kDocumentation;

  if (b[0] == 0xff) return AddressClass::kMulticast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::kSiteLocal;
  if ((b[0] & 0xfe) == 0xfc) {
    // AWS's IPv6 instance metadata endpoint lives inside the ULA block.
    if (addr == ip::make_address_v6("fd00:ec2::254")) return AddressClass::kMetadata;
    return AddressClass::kPrivate;
  }
  // IANA allocates global unicast only from 2000::/3; anything else is not
  // a place a public file server can be.
  if ((b[0] & 0xe0) != 0x20) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

// The v4 address a v4-mapped v6 address stands for, else the address itself.
ip::address unmap(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return a;
}

std::string normalize_host(std::string_view host) {
  std::string h = ascii_lower(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

}  // namespace

bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  std::size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

AddressClass classify(const ip::address& addr) {
  if (addr.is_v4()) return classify_v4(addr.to_v4().to_uint());
  return classify_v6(addr.to_v6());
}

Result<ip::address> address_from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return Status::invalid("sockaddr too short");
  }
  if (sa->sa_family == AF_INET) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) {
      return Status::invalid("sockaddr_in too short");
    }
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    return ip::address(ip::address_v4(ntohl(in.sin_addr.s_addr)));
  }
  if (sa->sa_family == AF_INET6) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) {
      return Status::invalid("sockaddr_in6 too short");
    }
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), in6.sin6_addr.s6_addr, 16);
    return ip::address(ip::address_v6(bytes, in6.sin6_scope_id));
  }
  return Status::invalid("address family " + std::to_string(sa->sa_family) + " is not IP");
}

Result<AddressClass> classify(const sockaddr* sa, socklen_t len) {
  Result<ip::address> a = address_from_sockaddr(sa, len);
  if (!a) return a.status();
  return classify(*a);
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const std::string s(text);
  const std::size_t slash = s.find('/');
  boost::system::error_code ec;
  ip::address net = ip::make_address(s.substr(0, slash), ec);
  if (ec) return Status::invalid("bad CIDR \"" + s + "\": not an IP address");
  const int max_len = net.is_v4() ? 32 : 128;
  int len = max_len;
  if (slash != std::string::npos) {
    const std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return Status::invalid("bad CIDR \"" + s + "\": bad prefix length");
    }
    len = std::stoi(p);
    if (len > max_len) return Status::invalid("bad CIDR \"" + s + "\": prefix too long");
  }
  Cidr c;
  c.network_ = net;
  c.prefix_len_ = len;
  // Host bits set means the operator probably meant something else; say so
  // instead of silently widening or narrowing the block.
  if (c.to_string() != net.to_string() + "/" + std::to_string(len)) {
    return Status::invalid("bad CIDR \"" + s + "\": host bits set below the prefix");
  }
  return c;
}

namespace {

bool prefix_match(const unsigned char* a, const unsigned char* b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool Cidr::contains(const ip::address& addr) const {
  if (network_.is_v4()) {
    const ip::address a = unmap(addr);
    if (!a.is_v4()) return false;
    const auto x = a.to_v4().to_bytes();
    const auto n = network_.to_v4().to_bytes();
    return prefix_match(x.data(), n.data(), prefix_len_);
  }
  ip::address_v6 a6;
  if (addr.is_v4()) {
    a6 = ip::make_address_v6(ip::v4_mapped, addr.to_v4());
  } else {
    a6 = addr.to_v6();
  }
  const auto x = a6.to_bytes();
  const auto n = network_.to_v6().to_bytes();
  return prefix_match(x.data(), n.data(), prefix_len_);
}

std::string Cidr::to_string() const {
  // Print the network with host bits cleared so parse() can compare.
  std::string net;
  if (network_.is_v4()) {
    const std::uint32_t mask = prefix_len_ == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_len_);
    net = ip::address_v4(network_.to_v4().to_uint() & mask).to_string();
  } else {
    auto b = network_.to_v6().to_bytes();
    for (int i = 0; i < 16; ++i) {
      const int keep = std::clamp(prefix_len_ - i * 8, 0, 8);
      b[i] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xff << (8 - keep));
    }
    net = ip::address_v6(b).to_string();
  }
  return net + "/" + std::to_string(prefix_len_);
}

Status AddressPolicy::allow(std::string_view entry) {
  std::string e(entry);
  // Trim surrounding blanks: config lists are hand-written.
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  e.erase(0, e.find_first_not_of(" \t"));
  boost::system::error_code ec;
  const bool looks_like_ip = e.find('/') != std::string::npos || e.find(':') != std::string::npos ||
                             (ip::make_address(e, ec), !ec);
  if (looks_like_ip) {
    Result<Cidr> c = Cidr::parse(e);
    if (!c) return c.status();
    cidrs_.push_back(*c);
    return Status::ok();
  }
  std::string h = normalize_host(e);
  if (!valid_host_name(h)) {
    return Status::invalid("bad allowlist entry \"" + e + "\": neither a CIDR nor a host name");
  }
  hosts_.push_back(std::move(h));
  return Status::ok();
}

Result<AddressPolicy> AddressPolicy::from_allowlist(const std::vector<std::string>& entries) {
  AddressPolicy p;
  for (const std::string& e : entries) {
    Status s = p.allow(e);
    if (!s) return s;
  }
  return p;
}

bool AddressPolicy::host_allowed(std::string_view host) const {
  if (hosts_.empty() || host.empty()) return false;
  const std::string h = normalize_host(host);
  return std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end();
}

Status AddressPolicy::check(const ip::address& addr, std::string_view host) const {
  if (host_allowed(host)) return Status::ok();
  const AddressClass c = classify(addr);
  if (c == AddressClass::kPublic) return Status::ok();
  for (const Cidr& cidr : cidrs_) {
    if (cidr.contains(addr)) return Status::ok();
  }
  const std::string name = address_class_name(c);
  const char* article = std::strchr("aeiou", name[0]) ? "an " : "a ";
  return Status::invalid(addr.to_string() + " is " + article + name + " address");
}

}  // namespace kiln::net
