#include "storage/network_ceilings.h"

#include <gtest/gtest.h>

#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

using testing::TempDir;

class NetworkCeilingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_ / "kiln.db");
    ASSERT_TRUE(db.is_ok()) << db.status().message();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(migrate(*db_));
    ceilings_.emplace(*db_);
  }

  TempDir dir_;
  std::optional<Database> db_;
  std::optional<NetworkCeilings> ceilings_;
};

TEST_F(NetworkCeilingsTest, SetReplaceGetClear) {
  auto none = ceilings_->get("team-a");
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(ceilings_->set("team-a", R"({"allow":["pypi.org"]})"));
  ASSERT_TRUE(ceilings_->set("team-a", R"({"allow":["npmjs.org"]})"));  // replaces
  ASSERT_TRUE(ceilings_->set("team-b", R"("none")"));
  auto a = ceilings_->get("team-a");
  ASSERT_TRUE(a.is_ok() && a->has_value());
  EXPECT_EQ(**a, R"({"allow":["npmjs.org"]})");

  auto all = ceilings_->list();
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].workspace, "team-a");
  EXPECT_EQ((*all)[1].policy_json, R"("none")");

  ASSERT_TRUE(ceilings_->clear("team-a"));
  EXPECT_FALSE(ceilings_->get("team-a")->has_value());
  Status again = ceilings_->clear("team-a");
  EXPECT_EQ(again.kind(), ErrorKind::kNotFound) << again.message();
}

// A second connection (as the admin command is, in another process) sees
// the change at once: nothing is cached.
TEST_F(NetworkCeilingsTest, AnotherConnectionSeesChanges) {
  auto other_db = Database::open(dir_ / "kiln.db");
  ASSERT_TRUE(other_db.is_ok());
  NetworkCeilings other(*other_db);
  ASSERT_TRUE(ceilings_->set("team-a", R"("internet")"));
  EXPECT_EQ(**other.get("team-a"), R"("internet")");
  ASSERT_TRUE(ceilings_->clear("team-a"));
  EXPECT_FALSE(other.get("team-a")->has_value());
}

}  // namespace
}  // namespace kiln::storage
