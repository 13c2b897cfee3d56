#include "egress/sandbox_egress.h"

#include <vector>

namespace kiln::egress {

std::uint64_t SandboxEgress::add_tunnel(Tunnel t) {
  const std::uint64_t id = next_id_++;
  tunnels_.emplace(id, std::move(t));
  return id;
}

void SandboxEgress::remove_tunnel(std::uint64_t id) { tunnels_.erase(id); }

std::size_t SandboxEgress::set_policy(Policy p, const net::AddressPolicy& operator_cidrs) {
  policy = std::move(p);
  std::vector<std::function<void()>> to_close;
  for (auto& [id, t] : tunnels_) {
    const Decision d = decide_address(effective_policy(policy, mirrors, t.host, t.port),
                                      operator_cidrs, t.host, t.address, t.port);
    if (!d.allowed) {
      if (t.entry) {
        t.entry->closed_by_policy = true;
        t.entry->reason = d.reason;
      }
      to_close.push_back(t.close);
    }
  }
  // Closing may run completion handlers later, never re-entrantly, but
  // collect first anyway so the map is not walked while it changes.
  for (auto& c : to_close) c();
  return to_close.size();
}

void SandboxEgress::shutdown() {
  if (acceptor) {
    boost::system::error_code ec;
    acceptor->close(ec);
  }
  std::vector<std::function<void()>> to_close;
  for (auto& [id, t] : tunnels_) to_close.push_back(t.close);
  for (auto& c : to_close) c();
}

}  // namespace kiln::egress
