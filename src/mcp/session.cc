#include "mcp/session.h"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace kiln::mcp {

std::string negotiate_version(std::string_view requested) {
  if (requested == "2025-11-25" || requested == "2025-06-18") return std::string(requested);
  return std::string(kLatestVersion);
}

bool known_header_version(std::string_view v) {
  return v == "2024-11-05" || v == "2025-03-26" || v == "2025-06-18" || v == "2025-11-25";
}

std::string new_session_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::shared_ptr<Session> SessionStore::create(std::string workspace, std::size_t key_tag,
                                              std::string version, SteadyClock::time_point now) {
  if (sessions_.size() >= max_) return nullptr;
  auto s = std::make_shared<Session>();
  s->id = new_session_id();
  s->workspace = std::move(workspace);
  s->key_tag = key_tag;
  s->version = std::move(version);
  s->last_used = now;
  sessions_[s->id] = s;
  return s;
}

std::shared_ptr<Session> SessionStore::find(const std::string& id, SteadyClock::time_point now) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (now - it->second->last_used > ttl_ && it->second->in_flight.empty()) return nullptr;
  it->second->last_used = now;
  return it->second;
}

std::shared_ptr<Session> SessionStore::remove(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  auto s = it->second;
  sessions_.erase(it);
  return s;
}

std::vector<std::shared_ptr<Session>> SessionStore::take_expired(SteadyClock::time_point now) {
  std::vector<std::shared_ptr<Session>> out;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    // A session with a call still running is not idle.
    if (now - it->second->last_used > ttl_ && it->second->in_flight.empty()) {
      out.push_back(it->second);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::shared_ptr<Session>> SessionStore::take_all() {
  std::vector<std::shared_ptr<Session>> out;
  for (auto& [id, s] : sessions_) out.push_back(s);
  sessions_.clear();
  return out;
}

}  // namespace kiln::mcp
