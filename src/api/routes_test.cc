#include "api/routes.h"

#include <gtest/gtest.h>

namespace kiln::api {
namespace {

TEST(ApiErrorFrom, EachKindHasOneStatusAndCode) {
  const struct {
    Status s;
    int status;
    const char* code;
  } cases[] = {
      {Status::invalid("m"), 400, "bad_request"},
      {Status::not_found("m"), 404, "not_found"},
      {Status::conflict("m"), 409, "conflict"},
      {Status::too_large("m"), 413, "too_large"},
      {Status::unsupported_type("m"), 415, "unsupported_type"},
      {Status::unprocessable("m"), 422, "invalid"},
      {Status::quota_exceeded("m"), 402, "quota_exceeded"},
      {Status::rate_limited("m"), 429, "rate_limited"},
      {Status::no_space("m"), 507, "insufficient_storage"},
      {Status::unavailable("m"), 503, "unavailable"},
      {Status::paused("m"), 409, "sandbox_paused"},
      {Status::internal("m"), 500, "internal"},
  };
  for (const auto& c : cases) {
    ApiError e = api_error_from(c.s);
    EXPECT_EQ(e.status, c.status) << c.code;
    EXPECT_EQ(e.code, c.code);
    EXPECT_STREQ(e.what(), "m");
  }
}

TEST(ApiErrorFrom, OsAndStorageFailuresAreNeverTheClientsFault) {
  for (int err : {ENOENT, EACCES, EINVAL, EEXIST, EIO, EROFS}) {
    ApiError e = api_error_from(Status::from_errno("open(/x)", err));
    EXPECT_EQ(e.status, 500) << err;
  }
  EXPECT_EQ(api_error_from(Status::from_errno("write", ENOSPC)).status, 507);
}

}  // namespace
}  // namespace kiln::api
