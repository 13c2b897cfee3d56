#include "storage/ledger.h"

#include <gtest/gtest.h>

#include <cmath>

#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::TempDir;

// 2024-03-01T00:00:00Z
const TimePoint kMar1 = from_unix_ms(1709251200000);
const TimePoint kMar2 = kMar1 + hours(24);
const TimePoint kMar3 = kMar1 + hours(48);

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    ledger_.reset();
    db_.reset();
    auto db = Database::open(dir_ / "kiln.db");
    ASSERT_TRUE(db.is_ok()) << db.status().message();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(migrate(*db_));
    ledger_.emplace(*db_, [this] { return now_; });
  }
  // The fixture's usage: three sandboxes of ws1 in range, one before it,
  // one of another workspace.
  void record() {
    Ledger& l = *ledger_;
    const TimePoint a = kMar1 + hours(10);
    ASSERT_TRUE(l.open_sandbox("sbx_a", "ws1", a));
    ASSERT_TRUE(l.update("sbx_a", {120500, 60250, 5, 1 << 20}, a + minutes(29)));
    ASSERT_TRUE(l.close_sandbox("sbx_a", a + minutes(30)));

    const TimePoint b = kMar2 - seconds(1);  // 23:59:59 on Mar 1, ends on Mar 2
    ASSERT_TRUE(l.open_sandbox("sbx_b", "ws1", b));
    ASSERT_TRUE(l.update("sbx_b", {1000, 500, 1, 0}, b + seconds(30)));
    ASSERT_TRUE(l.close_sandbox("sbx_b", b + seconds(601)));

    const TimePoint c = kMar2 + hours(8);  // still live
    ASSERT_TRUE(l.open_sandbox("sbx_c", "ws1", c));
    ASSERT_TRUE(l.update("sbx_c", {30000, 10000, 2, 0}, c + minutes(4)));

    ASSERT_TRUE(l.open_sandbox("sbx_d", "ws2", kMar1 + hours(12)));
    ASSERT_TRUE(l.update("sbx_d", {999000, 999000, 99, 0}, kMar1 + hours(13)));
    ASSERT_TRUE(l.open_sandbox("sbx_e", "ws1", kMar1 - hours(30)));
    ASSERT_TRUE(l.update("sbx_e", {7000, 7000, 7, 0}, kMar1 - hours(29)));
    ASSERT_TRUE(l.close_sandbox("sbx_e", kMar1 - hours(29)));
    now_ = c + minutes(5);
  }
  void expect_fixture_summary() {
    auto s = ledger_->summary("ws1", kMar1, kMar3);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_EQ(s->sandboxes, 3);
    EXPECT_DOUBLE_EQ(s->session_seconds, 1800 + 601 + 300);
    EXPECT_DOUBLE_EQ(s->active_seconds, 120.5 + 1 + 30);
    EXPECT_DOUBLE_EQ(s->cpu_seconds, 60.25 + 0.5 + 10);
    EXPECT_EQ(s->executions, 8);
    ASSERT_EQ(s->by_day.size(), 2u);
    const DailyUsage& d1 = s->by_day[0];
    EXPECT_EQ(d1.date, "2024-03-01");
    EXPECT_EQ(d1.sandboxes, 2);  // b belongs to the day it was created
    EXPECT_DOUBLE_EQ(d1.session_seconds, 1800 + 601);
    EXPECT_DOUBLE_EQ(d1.active_seconds, 121.5);
    EXPECT_DOUBLE_EQ(d1.cpu_seconds, 60.75);
    EXPECT_EQ(d1.executions, 6);
    const DailyUsage& d2 = s->by_day[1];
    EXPECT_EQ(d2.date, "2024-03-02");
    EXPECT_EQ(d2.sandboxes, 1);
    EXPECT_DOUBLE_EQ(d2.session_seconds, 300);  // live: up to the clock
    EXPECT_DOUBLE_EQ(d2.active_seconds, 30);
    EXPECT_DOUBLE_EQ(d2.cpu_seconds, 10);
    EXPECT_EQ(d2.executions, 2);
  }

  TempDir dir_;
  TimePoint now_ = kMar1;
  std::optional<Database> db_;
  std::optional<Ledger> ledger_;
};

TEST_F(LedgerTest, TotalsAndByDay) {
  record();
  expect_fixture_summary();
  auto other = ledger_->summary("ws2", kMar1, kMar3);
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(other->sandboxes, 1);
  EXPECT_DOUBLE_EQ(other->active_seconds, 999);
  auto nobody = ledger_->summary("ws3", kMar1, kMar3);
  ASSERT_TRUE(nobody.is_ok());
  EXPECT_EQ(nobody->sandboxes, 0);
  EXPECT_TRUE(nobody->by_day.empty());
  auto march2 = ledger_->summary("ws1", kMar2, kMar3);  // [from, to)
  EXPECT_EQ(march2->sandboxes, 1);
}

TEST_F(LedgerTest, UpdatesAreIdempotentAndMonotonic) {
  record();
  // A restart re-applies the last totals, and a stale snapshot arrives late.
  ASSERT_TRUE(ledger_->update("sbx_a", {120500, 60250, 5, 1 << 20}, kMar1 + hours(10)));
  ASSERT_TRUE(ledger_->update("sbx_c", {30000, 10000, 2, 0}, kMar2 + hours(8)));
  ASSERT_TRUE(ledger_->update("sbx_c", {10000, 2000, 1, 0}, kMar2 + hours(8)));
  ASSERT_TRUE(ledger_->open_sandbox("sbx_a", "ws1", kMar1));  // re-open: no effect
  ASSERT_TRUE(ledger_->close_sandbox("sbx_a", kMar3));        // second close: no effect
  expect_fixture_summary();
  reopen();  // and nothing is lost across a restart
  expect_fixture_summary();

  EXPECT_EQ(ledger_->update("sbx_zz", {}, now_).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(ledger_->close_sandbox("sbx_zz", now_).kind(), ErrorKind::kNotFound);
}

TEST_F(LedgerTest, CloseDanglingEndsAtLastSeen) {
  record();
  // The daemon dies; it comes back an hour later.
  reopen();
  now_ = kMar2 + hours(9);
  auto closed = ledger_->close_dangling();
  ASSERT_TRUE(closed.is_ok()) << closed.status().message();
  EXPECT_EQ(*closed, 2);  // sbx_c and the other workspace's sbx_d were live
  EXPECT_EQ(*ledger_->close_dangling(), 0);
  auto s = ledger_->summary("ws1", kMar2, kMar3);
  ASSERT_TRUE(s.is_ok());
  EXPECT_DOUBLE_EQ(s->session_seconds, 240);  // created 08:00, last seen 08:04
  EXPECT_DOUBLE_EQ(s->active_seconds, 30);
}

TEST_F(LedgerTest, Credits) {
  record();
  auto none = ledger_->credits("ws1");
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(*ledger_->quota_exhausted("ws1"));

  // 158.5 s of active time already used (including the out-of-range
  // sbx_e): it counts against nothing, only later use does.
  ASSERT_TRUE(ledger_->set_credits("ws1", 100));
  EXPECT_DOUBLE_EQ(**ledger_->credits("ws1"), 100);
  ASSERT_TRUE(ledger_->update("sbx_c", {80000, 20000, 3, 0}, now_));  // +50 s
  EXPECT_DOUBLE_EQ(**ledger_->credits("ws1"), 50);
  EXPECT_FALSE(*ledger_->quota_exhausted("ws1"));
  // Another workspace's use does not touch this balance.
  ASSERT_TRUE(ledger_->update("sbx_d", {2000000, 0, 100, 0}, now_));
  EXPECT_DOUBLE_EQ(**ledger_->credits("ws1"), 50);

  ASSERT_TRUE(ledger_->open_sandbox("sbx_f", "ws1", now_));
  ASSERT_TRUE(ledger_->update("sbx_f", {60000, 0, 1, 0}, now_));  // +60 s: 10 s over
  EXPECT_DOUBLE_EQ(**ledger_->credits("ws1"), 0);
  EXPECT_TRUE(*ledger_->quota_exhausted("ws1"));

  reopen();
  EXPECT_TRUE(*ledger_->quota_exhausted("ws1"));
  ASSERT_TRUE(ledger_->set_credits("ws1", 30));  // a top-up starts from now
  EXPECT_DOUBLE_EQ(**ledger_->credits("ws1"), 30);
  EXPECT_FALSE(*ledger_->quota_exhausted("ws1"));
  ASSERT_TRUE(ledger_->set_credits("ws1", 0));
  EXPECT_TRUE(*ledger_->quota_exhausted("ws1"));

  EXPECT_EQ(ledger_->set_credits("ws1", -1).kind(), ErrorKind::kInvalid);
  EXPECT_EQ(ledger_->set_credits("ws1", std::nan("")).kind(), ErrorKind::kInvalid);
}

}  // namespace
}  // namespace kiln::storage
