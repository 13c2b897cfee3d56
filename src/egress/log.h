// EgressLog: the last connections of one sandbox (bounded ring), each with
// its target, resolved address, decision and the rule behind it, bytes each
// way and duration; and the daemon-wide counters /metrics reports.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace kiln::egress {

struct LogEntry {
  std::chrono::system_clock::time_point at;
  std::chrono::steady_clock::time_point started;
  std::string kind;  // "connect" or "http"
  std::string host;
  std::uint16_t port = 0;
  std::string address;  // resolved address connected to (or refused); may be empty
  bool allowed = false;
  std::string rule;
  std::string reason;
  std::uint64_t bytes_up = 0, bytes_down = 0;  // sandbox -> host, host -> sandbox
  std::uint64_t duration_ms = 0;
  bool open = false;
  bool closed_by_policy = false;

  nlohmann::json to_json(const std::string& sandbox, const std::string& workspace) const;
};

class EgressLog {
 public:
  explicit EgressLog(std::size_t cap = 1000) : cap_(cap) {}
  std::shared_ptr<LogEntry> add(LogEntry e);
  // Oldest first; at most `limit` newest entries.
  nlohmann::json to_json(const std::string& sandbox, const std::string& workspace,
                         std::size_t limit) const;
  std::size_t size() const { return entries_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::size_t cap_;
  std::deque<std::shared_ptr<LogEntry>> entries_;
  std::uint64_t dropped_ = 0;
};

struct Counters {
  std::uint64_t allowed = 0, denied = 0, bytes_up = 0, bytes_down = 0;
};
// Daemon-wide, for /metrics.
Counters& counters();

}  // namespace kiln::egress
