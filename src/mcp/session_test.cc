#include "mcp/session.h"

#include <gtest/gtest.h>

namespace kiln::mcp {
namespace {

TEST(Versions, NegotiatesAsTheSpecSays) {
  EXPECT_EQ(negotiate_version("2025-06-18"), "2025-06-18");
  EXPECT_EQ(negotiate_version("2025-11-25"), "2025-11-25");
  EXPECT_EQ(negotiate_version("2024-11-05"), "2025-11-25");
  EXPECT_EQ(negotiate_version("2099-01-01"), "2025-11-25");
  EXPECT_EQ(negotiate_version(""), "2025-11-25");
}

TEST(Versions, HeaderTakesKnownVersionsOnly) {
  for (const char* v : {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
    EXPECT_TRUE(known_header_version(v)) << v;
  for (const char* v : {"invalid-protocol-version", "2000-01-01", "2099-01-01", "2025-11-25 "})
    EXPECT_FALSE(known_header_version(v)) << v;
}

TEST(SessionIds, AreRandomVisibleAscii) {
  const std::string a = new_session_id(), b = new_session_id();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

TEST(SessionStore, CreatesFindsRemoves) {
  SessionStore store(2, std::chrono::seconds(60));
  auto t = SteadyClock::now();
  auto s = store.create("acme", 1, "2025-11-25", t);
  ASSERT_TRUE(s);
  EXPECT_EQ(store.find(s->id, t)->workspace, "acme");
  EXPECT_EQ(store.find("nope", t), nullptr);
  EXPECT_EQ(store.remove(s->id), s);
  EXPECT_EQ(store.find(s->id, t), nullptr);
  EXPECT_EQ(store.remove(s->id), nullptr);
}

TEST(SessionStore, CapsTheNumberOfSessions) {
  SessionStore store(2, std::chrono::seconds(60));
  ASSERT_TRUE(store.create("w", 0, "v"));
  ASSERT_TRUE(store.create("w", 0, "v"));
  EXPECT_EQ(store.create("w", 0, "v"), nullptr);
}

TEST(SessionStore, IdleSessionsExpireButBusyOnesDoNot) {
  SessionStore store(10, std::chrono::seconds(60));
  auto t0 = SteadyClock::now();
  auto idle = store.create("w", 0, "v", t0);
  auto busy = store.create("w", 0, "v", t0);
  auto fresh = store.create("w", 0, "v", t0);
  busy->in_flight["1"] = std::make_shared<InFlight>();
  const auto later = t0 + std::chrono::seconds(61);
  ASSERT_TRUE(store.find(fresh->id, t0 + std::chrono::seconds(30)));  // touched
  EXPECT_EQ(store.find(idle->id, later), nullptr);                    // too old to use
  auto expired = store.take_expired(later);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], idle);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.take_all().size(), 2u);
  EXPECT_EQ(store.size(), 0u);
}

}  // namespace
}  // namespace kiln::mcp
