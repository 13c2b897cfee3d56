// The egress proxy: accepts connections on a sandbox's in-sandbox listener
// (jail/netns_listener.h), reads one proxy request head with Beast (CONNECT
// host:port for TLS, or an absolute-form http:// request), decides it
// against the sandbox's policy, resolves the name once, checks every
// address, connects from the host to a checked address only and copies
// bytes both ways, counting them. Refusals get a 403 whose reason phrase
// says why ("Tunnel connection failed: 403 kiln egress: ..." in Python), and
// every connection, allowed or not, goes into the sandbox's egress log.
//
// A plain-HTTP request is forwarded with "Connection: close", so each
// upstream connection carries requests for the one checked host; a
// redirect the client follows is a new, newly checked request.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "common/unique_fd.h"
#include "egress/resolver.h"
#include "egress/sandbox_egress.h"
#include "net/address_policy.h"

namespace kiln::egress {

// The proxy's port on the sandbox's loopback.
inline constexpr std::uint16_t kProxyPort = 3128;

struct ProxyOptions {
  const net::AddressPolicy* operator_cidrs = nullptr;  // outlive the proxy
  const Resolver* resolver = nullptr;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};
};

// Takes the listener into `state->acceptor` and serves it until
// state->shutdown().
void start_proxy(boost::asio::io_context& io, UniqueFd listener,
                 std::shared_ptr<SandboxEgress> state, ProxyOptions options);

}  // namespace kiln::egress
