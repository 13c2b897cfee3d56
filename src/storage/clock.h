// Time as the storage layer sees it: an injectable clock and Unix
// milliseconds, the only time representation written to the database.
//
// Concurrency: free functions and value types; a Clock is called from
// whichever thread uses the store that holds it, so it must be thread-safe
// (system_clock is; a test clock must be too if the test is threaded).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace kiln::storage {

using TimePoint = std::chrono::system_clock::time_point;

// Stores take a Clock rather than calling system_clock directly so tests can
// move time forward by hours (scope expiry, session lengths) without sleeping.
using Clock = std::function<TimePoint()>;

inline Clock system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

// Integer milliseconds keep SQLite comparisons exact and indexable; no time
// zones are involved anywhere (everything is UTC).
inline std::int64_t to_unix_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline TimePoint from_unix_ms(std::int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace kiln::storage
