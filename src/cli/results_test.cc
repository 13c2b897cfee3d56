#include "cli/results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln::cli {
namespace {

// A 1x1 PNG.
constexpr const char* kPngBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg==";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Base64, DecodesWithPaddingAndWhitespace) {
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_EQ(*base64_decode("aGk="), "hi");
  EXPECT_EQ(*base64_decode("aGk/"), std::string("hi?"));
  EXPECT_EQ(*base64_decode("aA=="), "h");
  EXPECT_EQ(*base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("a*==").is_ok() && base64_decode("a*==").value() == "k");
}

TEST(PngSize, ReadsIhdr) {
  auto png = base64_decode(kPngBase64);
  ASSERT_TRUE(png);
  auto dims = png_size(*png);
  ASSERT_TRUE(dims);
  EXPECT_EQ(dims->first, 1u);
  EXPECT_EQ(dims->second, 1u);
  EXPECT_FALSE(png_size("GIF89a........................"));
  EXPECT_FALSE(png_size(png->substr(0, 20)));
}

TEST(ResultSaver, NumbersResultsAndWritesEveryFileRendering) {
  char tmpl[] = "/tmp/kiln-results-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/out";
  ASSERT_TRUE(ensure_dir(dir));
  ResultSaver saver(dir);
  auto text_only = saver.save({{"text", "42"}, {"is_main_result", true}});
  ASSERT_TRUE(text_only);
  EXPECT_TRUE(text_only->empty());
  auto chart = saver.save({{"text", "<Figure>"}, {"png", kPngBase64}});
  ASSERT_TRUE(chart);
  ASSERT_EQ(chart->size(), 1u);
  EXPECT_EQ((*chart)[0].path, dir + "/result-1.png");
  EXPECT_EQ((*chart)[0].note, "1x1 PNG");
  EXPECT_EQ(slurp(dir + "/result-1.png"), *base64_decode(kPngBase64));
  auto table = saver.save({{"text", "a"}, {"html", "<table></table>"}, {"svg", "<svg/>"}});
  ASSERT_TRUE(table);
  ASSERT_EQ(table->size(), 2u);
  EXPECT_EQ((*table)[0].path, dir + "/result-2.svg");
  EXPECT_EQ((*table)[1].path, dir + "/result-2.html");
  EXPECT_EQ(slurp(dir + "/result-2.html"), "<table></table>");
  EXPECT_FALSE(saver.save({{"png", "not base64!"}}));
  EXPECT_TRUE(has_image({{"png", ""}}));
  EXPECT_FALSE(has_image({{"html", ""}}));
  // A file where the folder should be.
  EXPECT_FALSE(ensure_dir(dir + "/result-1.png"));
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace kiln::cli
