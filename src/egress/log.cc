#include "egress/log.h"

#include <ctime>

namespace kiln::egress {

namespace {

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count() % 1000));
  return out;
}

}  // namespace

nlohmann::json LogEntry::to_json(const std::string& sandbox, const std::string& workspace) const {
  std::uint64_t ms = duration_ms;
  if (open) {
    ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count());
  }
  nlohmann::json j = {
      {"time", rfc3339_ms(at)},
      {"sandbox", sandbox},
      {"workspace", workspace},
      {"kind", kind},
      {"host", host},
      {"port", port},
      {"address", address.empty() ? nlohmann::json(nullptr) : nlohmann::json(address)},
      {"decision", allowed ? "allowed" : "denied"},
      {"rule", rule},
      {"bytes_up", bytes_up},
      {"bytes_down", bytes_down},
      {"duration_ms", ms},
      {"open", open}};
  if (!reason.empty()) j["reason"] = reason;
  if (closed_by_policy) j["closed_by_policy"] = true;
  return j;
}

std::shared_ptr<LogEntry> EgressLog::add(LogEntry e) {
  auto p = std::make_shared<LogEntry>(std::move(e));
  entries_.push_back(p);
  while (entries_.size() > cap_) {
    entries_.pop_front();
    ++dropped_;
  }
  return p;
}

nlohmann::json EgressLog::to_json(const std::string& sandbox, const std::string& workspace,
                                  std::size_t limit) const {
  nlohmann::json a = nlohmann::json::array();
  const std::size_t skip = entries_.size() > limit ? entries_.size() - limit : 0;
  for (std::size_t i = skip; i < entries_.size(); ++i)
    a.push_back(entries_[i]->to_json(sandbox, workspace));
  return a;
}

Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace kiln::egress
