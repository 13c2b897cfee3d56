// SandboxEgress: one sandbox's egress state in kilnd — its policy, its
// proxy listener (inside the sandbox's network namespace, owned here), the
// tunnels open now, the log and the byte totals.
//
// set_policy() takes effect for the next connection at once and closes
// every open tunnel the new policy refuses (by its host, port and the
// address it was connected to; no new DNS lookup).
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "egress/log.h"
#include "egress/policy.h"
#include "net/address_policy.h"

namespace kiln::egress {

struct Tunnel {
  std::string host;
  std::uint16_t port = 0;
  boost::asio::ip::address address;
  std::shared_ptr<LogEntry> entry;
  std::function<void()> close;
};

class SandboxEgress {
 public:
  explicit SandboxEgress(std::string sandbox_id) : sandbox_id(std::move(sandbox_id)) {}

  std::string sandbox_id;
  std::string workspace = "default";
  Policy policy;
  // The operator's package mirrors, reachable whatever `policy` says
  // (effective_policy); set once when the sandbox is made.
  std::vector<Rule> mirrors;
  EgressLog log;
  std::uint64_t bytes_up = 0, bytes_down = 0;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  // Proxy connections being served (head, tunnel or refusal); the proxy
  // refuses more than kMaxConnections so a sandbox cannot exhaust kilnd's fds.
  static constexpr std::size_t kMaxConnections = 256;
  std::size_t active = 0;

  std::uint64_t add_tunnel(Tunnel t);
  void remove_tunnel(std::uint64_t id);
  std::size_t open_tunnels() const { return tunnels_.size(); }
  // Replaces the policy; returns how many open tunnels it closed.
  std::size_t set_policy(Policy p, const net::AddressPolicy& operator_cidrs);
  // Stops accepting and closes every tunnel (the sandbox is ending).
  void shutdown();

 private:
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Tunnel> tunnels_;
};

}  // namespace kiln::egress
