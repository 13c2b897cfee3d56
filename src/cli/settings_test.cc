#include "cli/settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace kiln::cli {
namespace {

class TempHome : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-settings-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    env_["HOME"] = home_;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  void write(const std::string& rel, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(home_ + "/" + rel).parent_path());
    std::ofstream(home_ + "/" + rel) << text;
  }
  std::string home_;
  Env env_;
};

TEST(ParseConfig, ReadsTheKnownKeys) {
  auto c = parse_config("# comment\nurl = \"http://h:1\"\napi_key = 'k1'\n", "c.toml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->url, "http://h:1");
  EXPECT_EQ(c->api_key, "k1");
  EXPECT_EQ(c->api_key_file, "");
}

TEST(ParseConfig, NamesFileAndLineOfMistakes) {
  auto unknown = parse_config("url = \"x\"\nurll = \"y\"\n", "/c.toml");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().message(),
            "/c.toml:2: unknown setting 'urll' (known: url, api_key, api_key_file)");
  auto type = parse_config("api_key = 7\n", "/c.toml");
  ASSERT_FALSE(type);
  EXPECT_EQ(type.status().message(), "/c.toml:1: 'api_key' must be a string");
  auto syntax = parse_config("url = \n", "/c.toml");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.status().message().rfind("/c.toml:1: ", 0), 0u) << syntax.status().message();
}

TEST(Paths, FollowXdgThenHome) {
  Env env{{"HOME", "/home/u"}};
  EXPECT_EQ(default_config_path(env), "/home/u/.config/kiln/config.toml");
  EXPECT_EQ(default_history_path(env), "/home/u/.local/state/kiln/history");
  env["XDG_CONFIG_HOME"] = "/x/c";
  env["XDG_STATE_HOME"] = "/x/s";
  EXPECT_EQ(default_config_path(env), "/x/c/kiln/config.toml");
  EXPECT_EQ(default_history_path(env), "/x/s/kiln/history");
  EXPECT_EQ(expand_home("~/k", env), "/home/u/k");
  EXPECT_EQ(expand_home("/abs/~", env), "/abs/~");
}

TEST_F(TempHome, DefaultsWithoutAnything) {
  auto s = resolve_settings({}, env_);
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->url, "http://127.0.0.1:8420");
  EXPECT_EQ(s->url_from, "default");
  EXPECT_EQ(s->api_key, "");
}

TEST_F(TempHome, FlagsBeatEnvironmentBeatsConfig) {
  write(".config/kiln/config.toml", "url = \"http://file:1\"\napi_key = \"file-key\"\n");
  auto from_file = resolve_settings({}, env_);
  ASSERT_TRUE(from_file);
  EXPECT_EQ(from_file->url, "http://file:1");
  EXPECT_EQ(from_file->api_key, "file-key");
  EXPECT_EQ(from_file->key_from, home_ + "/.config/kiln/config.toml");

  env_["KILN_URL"] = "http://env:2";
  env_["KILN_API_KEY"] = " env-key\n";
  auto from_env = resolve_settings({}, env_);
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->url, "http://env:2");
  EXPECT_EQ(from_env->api_key, "env-key");
  EXPECT_EQ(from_env->key_from, "KILN_API_KEY");

  write("key", "flag-key\nsecond line ignored\n");
  SettingsFlags flags;
  flags.url = "http://flag:3";
  flags.api_key_file = "~/key";
  auto from_flags = resolve_settings(flags, env_);
  ASSERT_TRUE(from_flags);
  EXPECT_EQ(from_flags->url, "http://flag:3");
  EXPECT_EQ(from_flags->url_from, "--url");
  EXPECT_EQ(from_flags->api_key, "flag-key");
}

TEST_F(TempHome, KeyFileFromConfigAndErrors) {
  write("k", "  from-key-file  \n");
  write(".config/kiln/config.toml", "api_key_file = \"~/k\"\n");
  auto s = resolve_settings({}, env_);
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->api_key, "from-key-file");

  write("empty", "\n");
  SettingsFlags flags;
  flags.api_key_file = home_ + "/empty";
  auto empty = resolve_settings(flags, env_);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos);

  flags.api_key_file = home_ + "/missing";
  EXPECT_FALSE(resolve_settings(flags, env_));

  SettingsFlags explicit_config;
  explicit_config.config_path = home_ + "/nope.toml";
  auto missing = resolve_settings(explicit_config, env_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("nope.toml"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
