// Human renderings of sizes, durations and times, and plain tables.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::cli {

// 0 B, 512 B, 1.5 KiB, 12.3 MiB, 2.0 GiB.
std::string human_bytes(std::uint64_t bytes);
// 850 ms, 1.2 s, 4m 05s, 2h 10m.
std::string human_duration(std::chrono::milliseconds d);
// An RFC 3339 UTC time as seconds since the epoch; nullopt if malformed.
std::optional<std::int64_t> parse_rfc3339(const std::string& s);
// "in 4m 12s" / "12s ago" relative to now (seconds since the epoch), or
// the string itself when it does not parse.
std::string relative_time(const std::string& rfc3339, std::int64_t now);
// "2026-11-22 02:45:37" (UTC, no fraction), or the string as it is.
std::string short_time(const std::string& rfc3339);

// Columns padded to their widest cell, two spaces apart; the last column
// is not padded. Cells may hold UTF-8 (widths count code points).
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Key/value lines ("key:   value"), keys padded to the widest.
void print_fields(std::ostream& out,
                  const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace kiln::cli
