#include "daemon/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace kiln {
namespace {

Result<Config> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "kilnd");
  return parse_config(static_cast<int>(args.size()), args.data());
}

TEST(Config, DefaultsMatchTheApiContract) {
  auto c = parse({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listen, "127.0.0.1:8420");
  EXPECT_EQ(c->default_limits.memory_mb, 512u);
  EXPECT_EQ(c->default_limits.pids, 256u);
  EXPECT_EQ(c->default_limits.disk_mb, 1024u);
  EXPECT_EQ(c->default_limits.exec_timeout_s, 60u);
  EXPECT_EQ(c->sandbox_timeout_s, 300u);
  EXPECT_EQ(c->output_cap_bytes, 1u << 20);
  EXPECT_EQ(c->file_cap_bytes, 50u << 20);
  EXPECT_EQ(c->pool_size, 2);
}

TEST(Config, FlagsOverrideDefaults) {
  auto c = parse({"--listen", "127.0.0.1:9999", "--pool-size", "0", "--memory-mb", "128"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pool_size, 0);
  EXPECT_EQ(c->default_limits.memory_mb, 128u);
  // Fails later (no kiln-init there) but splits --listen first.
  (void)finalize_config(*c, "/nonexistent");
  EXPECT_EQ(c->listen_port, 9999);
  EXPECT_EQ(c->listen_host, "127.0.0.1");
}

TEST(Config, PythonPreloadTakesModuleNamesOrNothing) {
  auto d = parse({});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->python_preload, (std::vector<std::string>{"numpy", "pandas", "matplotlib.pyplot"}));
  auto c = parse({"--python-preload", "scipy.stats,_csv,json"});
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->python_preload, (std::vector<std::string>{"scipy.stats", "_csv", "json"}));
  auto none = parse({"--python-preload", ""});
  ASSERT_TRUE(none) << none.status().message();
  EXPECT_TRUE(none->python_preload.empty());
  for (const char* bad : {"os;import x", "a..b", ".a", "a.", "1abc", "pan das", "a-b"}) {
    auto r = parse({"--python-preload", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.status().message().find("not a Python module name"), std::string::npos)
        << r.status().message();
  }
}

TEST(Config, ConfigFileSetsValues) {
  const std::string path = ::testing::TempDir() + "/kiln-config-test.ini";
  {
    std::ofstream f(path);
    f << "pool-size=5\nsandbox-timeout-s=42\noutput-cap-bytes=1000\n";
  }
  auto c = parse({"--config", path.c_str()});
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->pool_size, 5);
  EXPECT_EQ(c->sandbox_timeout_s, 42u);
  EXPECT_EQ(c->output_cap_bytes, 1000u);
  std::remove(path.c_str());
}

TEST(Config, RejectsBadValues) {
  EXPECT_FALSE(parse({"--pool-size", "-1"}));
  EXPECT_FALSE(parse({"--pool-size", "abc"}));
  EXPECT_FALSE(parse({"--no-such-flag"}));
  auto c = parse({"--listen", "nonsense"});
  ASSERT_TRUE(c);
  EXPECT_FALSE(finalize_config(*c, "."));
  auto d = parse({"--memory-mb", "1"});
  ASSERT_TRUE(d);
  EXPECT_FALSE(finalize_config(*d, "."));
}

TEST(Config, LoopbackDetection) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("::"));
}

}  // namespace
}  // namespace kiln
