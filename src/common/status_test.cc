#include "common/status.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(Status, OkAndKinds) {
  EXPECT_TRUE(Status::ok());
  EXPECT_EQ(Status::ok().kind(), ErrorKind::kOk);
  EXPECT_EQ(Status::invalid("x").kind(), ErrorKind::kInvalid);
  EXPECT_EQ(Status::not_found("x").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(Status::unavailable("x").kind(), ErrorKind::kUnavailable);
  EXPECT_FALSE(Status::internal("boom"));
  EXPECT_EQ(Status::internal("boom").message(), "boom");
}

TEST(Status, OsFailuresAreInternalUnlessTheDiskIsFull) {
  Status s = Status::from_errno("open(/x)", ENOENT);
  EXPECT_EQ(s.kind(), ErrorKind::kInternal);  // an OS ENOENT is not a 404
  EXPECT_EQ(s.error_number(), ENOENT);
  EXPECT_EQ(s.message(), std::string("open(/x): ") + std::strerror(ENOENT));
  EXPECT_EQ(Status::from_errno("write", ENOSPC).kind(), ErrorKind::kNoSpace);
  EXPECT_EQ(Status::from_errno("write", EDQUOT).kind(), ErrorKind::kNoSpace);
}

TEST(Status, ContextAndMessageKeepKindAndCode) {
  Status s = Status::of(ErrorKind::kConflict, "taken", 19);
  Status c = s.with_context("insert");
  EXPECT_EQ(c.kind(), ErrorKind::kConflict);
  EXPECT_EQ(c.error_number(), 19);
  EXPECT_EQ(c.message(), "insert: taken");
  EXPECT_EQ(s.with_message("other").message(), "other");
  EXPECT_TRUE(Status::ok().with_context("x"));
}

Status step(bool fail) { return fail ? Status::invalid("step failed") : Status::ok(); }
Status checklist(int fail_at, int& ran) {
  for (int i = 0; i < 3; ++i) {
    ++ran;
    KILN_RETURN_IF_ERROR(step(i == fail_at));
  }
  return Status::ok();
}

TEST(Status, ReturnIfErrorStopsTheChecklist) {
  int ran = 0;
  EXPECT_TRUE(checklist(-1, ran));
  EXPECT_EQ(ran, 3);
  ran = 0;
  Status s = checklist(1, ran);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalid);
  EXPECT_EQ(ran, 2);
}

TEST(Status, EveryKindHasAName) {
  for (int k = 0; k <= static_cast<int>(ErrorKind::kInternal); ++k)
    EXPECT_STRNE(error_kind_name(static_cast<ErrorKind>(k)), "");
  EXPECT_STREQ(error_kind_name(ErrorKind::kNotFound), "not_found");
}

}  // namespace
}  // namespace kiln
