// MCP sessions over Streamable HTTP: the id a client got from initialize,
// the protocol version negotiated there, the workspace and key it is bound
// to, its own sandbox (made on first use, ended with the session) and the
// tool calls in flight (so notifications/cancelled can stop them).
//
// Sessions end on DELETE, after `idle_ttl` without a request (clients that
// just close never send DELETE), or when kilnd stops.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::mcp {

using SteadyClock = std::chrono::steady_clock;

// The versions kilnd negotiates, newest first.
inline constexpr std::string_view kLatestVersion = "2025-11-25";
// The version a server answers to `requested` in initialize: the same one
// when supported, else the latest (never an error, as the spec says).
std::string negotiate_version(std::string_view requested);
// A value the MCP-Protocol-Version header may carry: any published MCP
// version (clients send older ones too); anything else is a 400.
bool known_header_version(std::string_view v);

struct InFlight {
  std::function<void()> cancel;  // interrupts the tool's run, if it has one
  bool cancelled = false;
};

struct Session {
  std::string id;
  std::string workspace;
  std::size_t key_tag = 0;  // hash of the credential that made it
  std::string version;
  bool initialized = false;  // notifications/initialized seen
  std::string sandbox_id;    // the session's own sandbox, once made
  bool ended = false;        // removed from the store
  SteadyClock::time_point last_used;
  std::map<std::string, std::shared_ptr<InFlight>> in_flight;  // by id_key()
};

class SessionStore {
 public:
  SessionStore(std::size_t max_sessions, std::chrono::seconds idle_ttl)
      : max_(max_sessions), ttl_(idle_ttl) {}

  // A new session, or null when `max_sessions` are live.
  std::shared_ptr<Session> create(std::string workspace, std::size_t key_tag, std::string version,
                                  SteadyClock::time_point now = SteadyClock::now());
  // The live session `id` (touched), or null.
  std::shared_ptr<Session> find(const std::string& id,
                                SteadyClock::time_point now = SteadyClock::now());
  // Removes and returns `id` (null when unknown).
  std::shared_ptr<Session> remove(const std::string& id);
  // Removes and returns every session idle past the TTL.
  std::vector<std::shared_ptr<Session>> take_expired(
      SteadyClock::time_point now = SteadyClock::now());
  // Removes and returns them all (shutdown).
  std::vector<std::shared_ptr<Session>> take_all();
  std::size_t size() const { return sessions_.size(); }

 private:
  std::size_t max_;
  std::chrono::seconds ttl_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

// 32 lower-case hex characters from a cryptographic random source.
std::string new_session_id();

}  // namespace kiln::mcp
