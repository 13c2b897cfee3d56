#include "cli/format.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kiln::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Format, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(4u << 20), "4.0 MiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

TEST(Format, HumanDuration) {
  EXPECT_EQ(human_duration(milliseconds(850)), "850 ms");
  EXPECT_EQ(human_duration(milliseconds(1234)), "1.2 s");
  EXPECT_EQ(human_duration(seconds(245)), "4m 05s");
  EXPECT_EQ(human_duration(seconds(7800)), "2h 10m");
  EXPECT_EQ(human_duration(seconds(90000)), "1d 01h");
}

TEST(Format, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-11-22T02:45:37.904Z"), 1795315537);
  EXPECT_EQ(parse_rfc3339("2026-11-22T04:45:37+02:00"), 1795315537);
  EXPECT_FALSE(parse_rfc3339("2026-11-22"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T02:45:37"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T02:45:37Zjunk"));
}

TEST(Format, RelativeAndShortTimes) {
  const std::int64_t now = 1795315537;
  EXPECT_EQ(relative_time("2026-11-22T02:49:49Z", now), "in 4m 12s");
  EXPECT_EQ(relative_time("2026-11-22T02:45:25Z", now), "12.0 s ago");
  EXPECT_EQ(relative_time("2026-11-22T02:45:37Z", now), "now");
  EXPECT_EQ(relative_time("garbage", now), "garbage");
  EXPECT_EQ(short_time("2026-11-22T02:45:37.904Z"), "2026-11-22 02:45:37");
  EXPECT_EQ(short_time(""), "");
}

TEST(Format, TablePadsColumnsButNotTheLast) {
  Table t({"ID", "STATUS", "NOTE"});
  t.add({"sbx_1", "running", "a long note"});
  t.add({"sbx_22222", "é", ""});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(),
            "ID         STATUS   NOTE\n"
            "sbx_1      running  a long note\n"
            "sbx_22222  é\n");
}

TEST(Format, Fields) {
  std::ostringstream out;
  print_fields(out, {{"id", "sbx_1"}, {"memory peak", "9.1 MiB"}});
  EXPECT_EQ(out.str(), "id:           sbx_1\nmemory peak:  9.1 MiB\n");
}

}  // namespace
}  // namespace kiln::cli
