#include "mcp/bridge.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <vector>

namespace kiln::mcp {
namespace {

Result<BridgeOptions> parse(std::vector<const char*> args, const char* env = nullptr) {
  args.insert(args.begin(), "mcp");
  return parse_bridge_args(static_cast<int>(args.size()), args.data(), env);
}

TEST(BridgeArgs, ParsesTheUrl) {
  auto o = parse({"--url", "http://127.0.0.1:8420"});
  ASSERT_TRUE(o) << o.status().message();
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, "8420");
  EXPECT_EQ(o->target, "/mcp");
  auto o2 = parse({"--url=http://[::1]:9/x/mcp"});
  ASSERT_TRUE(o2);
  EXPECT_EQ(o2->host, "::1");
  EXPECT_EQ(o2->port, "9");
  EXPECT_EQ(o2->target, "/x/mcp");
  EXPECT_EQ(parse({"--url", "http://kiln"})->port, "80");
  EXPECT_FALSE(parse({"--url", "https://kiln"}));
  EXPECT_FALSE(parse({}));
  EXPECT_FALSE(parse({"--url", "http://a:1", "--bogus"}));
}

TEST(BridgeArgs, KeyFromFileOrEnvironmentNeverArgv) {
  EXPECT_EQ(parse({"--url", "http://a:1"}, " k1 \n")->key, "k1");
  EXPECT_EQ(parse({"--url", "http://a:1"})->key, "");
  auto refused = parse({"--url", "http://a:1", "--key", "secret"});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("--key-file"), std::string::npos);
  char path[] = "/tmp/kiln-bridge-key-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "from-file\n";
  EXPECT_EQ(parse({"--url", "http://a:1", "--key-file", path}, "env")->key, "from-file");
  std::ofstream(path) << "";
  EXPECT_FALSE(parse({"--url", "http://a:1", "--key-file", path}));
  std::remove(path);
  EXPECT_FALSE(parse({"--url", "http://a:1", "--key-file", "/nonexistent/k"}));
}

TEST(BridgeArgs, HelpExitsZero) {
  auto h = parse({"--help"});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.status().message().rfind("exit:0\n", 0), 0u);
}

}  // namespace
}  // namespace kiln::mcp
