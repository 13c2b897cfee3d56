#include "skills/registry.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::skills {
namespace {

namespace fs = std::filesystem;

class SkillRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kiln-skills-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ / "skills";
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void write(const fs::path& rel, const std::string& content) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  void skill(const std::string& folder, const std::string& name, const std::string& desc,
             const std::string& body = "Do the thing.\n") {
    write(fs::path(folder) / "SKILL.md",
          "---\nname: " + name + "\ndescription: " + desc + "\n---\n" + body);
  }
  SkillRegistry load() {
    auto r = SkillRegistry::load(dir_.string());
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return std::move(r.value());
  }
  bool warned_about(const SkillRegistry& reg, const std::string& needle) {
    return std::any_of(reg.warnings().begin(), reg.warnings().end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(SkillRegistryTest, LoadsValidSkillsSortedByName) {
  skill("zeta", "zeta", "Last one");
  skill("alpha", "alpha", "First one", "# Alpha\n\nUse it like this.\n");
  write("alpha/template.py", "print('hi')\n");
  write("README.md", "not a skill, ignored silently\n");
  SkillRegistry reg = load();
  ASSERT_EQ(reg.list().size(), 2u);
  EXPECT_EQ(reg.list()[0].name, "alpha");
  EXPECT_EQ(reg.list()[0].description, "First one");
  EXPECT_EQ(reg.list()[1].name, "zeta");
  EXPECT_TRUE(reg.warnings().empty());

  auto s = reg.get("alpha");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->body, "# Alpha\n\nUse it like this.\n");
  EXPECT_EQ(s->dir, dir_.string() + "/alpha");
  EXPECT_EQ(s->files, (std::vector<std::string>{"SKILL.md", "template.py"}));
}

TEST_F(SkillRegistryTest, ExtraFrontMatterKeysAndFoldedDescription) {
  write("multi/SKILL.md",
        "---\r\nname: multi\r\ndescription: >\r\n  Spans two\r\n  lines\r\nversion: 2\r\n"
        "tags: [a, b]\r\n---\r\nBody\r\n");
  SkillRegistry reg = load();
  ASSERT_EQ(reg.list().size(), 1u) << (reg.warnings().empty() ? "" : reg.warnings()[0]);
  EXPECT_EQ(reg.list()[0].description, "Spans two lines");
  EXPECT_EQ(reg.get("multi")->body, "Body\r\n");
}

TEST_F(SkillRegistryTest, SkipsBrokenFoldersWithWarnings) {
  skill("good", "good", "Fine");
  write("nomd/template.py", "x = 1\n");
  write("noname/SKILL.md", "---\ndescription: no name here\n---\nbody\n");
  write("nodesc/SKILL.md", "---\nname: nodesc\n---\nbody\n");
  write("badyaml/SKILL.md", "---\nname: [unclosed\ndescription: x\n---\nbody\n");
  write("notmap/SKILL.md", "---\n- a\n- b\n---\nbody\n");
  write("nofront/SKILL.md", "# Just markdown\n");
  write("unclosed/SKILL.md", "---\nname: unclosed\ndescription: x\n");
  skill("mismatch", "other-name", "Name differs from folder");
  skill("bad name!", "bad name!", "Invalid folder name");
  write("listname/SKILL.md", "---\nname: [a, b]\ndescription: x\n---\n");

  SkillRegistry reg = load();
  ASSERT_EQ(reg.list().size(), 1u);
  EXPECT_EQ(reg.list()[0].name, "good");
  EXPECT_TRUE(warned_about(reg, "nomd: no SKILL.md"));
  EXPECT_TRUE(warned_about(reg, "noname: front matter has no 'name'"));
  EXPECT_TRUE(warned_about(reg, "nodesc: front matter has no 'description'"));
  EXPECT_TRUE(warned_about(reg, "badyaml: invalid YAML front matter"));
  EXPECT_TRUE(warned_about(reg, "notmap: front matter is not a YAML mapping"));
  EXPECT_TRUE(warned_about(reg, "nofront: SKILL.md does not start"));
  EXPECT_TRUE(warned_about(reg, "unclosed: front matter is not closed"));
  EXPECT_TRUE(warned_about(reg, "mismatch: front matter name 'other-name' does not match"));
  EXPECT_TRUE(warned_about(reg, "bad name!: folder name is not a valid skill name"));
  EXPECT_TRUE(warned_about(reg, "listname: front matter 'name' is not a string"));
  EXPECT_EQ(reg.warnings().size(), 10u);

  auto missing = reg.get("mismatch");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kNotFound);
}

TEST_F(SkillRegistryTest, MissingSkillsDirIsAnError) {
  auto r = SkillRegistry::load((root_ / "nope").string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().error_number(), ENOENT);  // the OS call's own errno
}

TEST_F(SkillRegistryTest, EmptySkillsDirIsFine) {
  SkillRegistry reg = load();
  EXPECT_TRUE(reg.list().empty());
  EXPECT_TRUE(reg.warnings().empty());
}

TEST_F(SkillRegistryTest, SymlinkedSkillFolderAndSkillMdAreRefused) {
  skill("real", "real", "Real one");
  fs::create_directory_symlink(dir_ / "real", dir_ / "linked");
  // A SKILL.md that is a symlink to a file outside the skill.
  write("outside.md", "---\nname: leaky\ndescription: secret\n---\nsecret body\n");
  fs::create_directories(dir_ / "leaky");
  fs::create_symlink("../outside.md", dir_ / "leaky" / "SKILL.md");
  SkillRegistry reg = load();
  ASSERT_EQ(reg.list().size(), 1u);
  EXPECT_EQ(reg.list()[0].name, "real");
  EXPECT_TRUE(warned_about(reg, "linked: a symlink"));
  EXPECT_TRUE(warned_about(reg, "leaky: path escapes the skill folder"));
}

TEST_F(SkillRegistryTest, FileListingWalksWithoutFollowingSymlinks) {
  skill("s", "s", "d");
  write("s/a.py", "a");
  write("s/templates/b.txt", "b");
  write("s/templates/deep/c.csv", "c");
  write("s/.hidden", "h");
  write("s/.git/config", "g");
  write("s/__pycache__/a.cpython-311.pyc", "p");
  write("s/templates/__pycache__/x.pyc", "p");
  write("elsewhere/secret.txt", "secret");
  fs::create_symlink("/etc/passwd", dir_ / "s" / "passwd");
  fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "s" / "linkdir");
  ASSERT_EQ(::mkfifo((dir_ / "s" / "fifo").c_str(), 0600), 0);
  SkillRegistry reg = load();
  auto s = reg.get("s");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->files, (std::vector<std::string>{"SKILL.md", "a.py", "templates/b.txt",
                                                "templates/deep/c.csv"}));
}

TEST_F(SkillRegistryTest, ReadFile) {
  skill("s", "s", "d");
  write("s/templates/t.py", "print(1)\n");
  SkillRegistry reg = load();
  auto r = reg.read_file("s", "templates/t.py", 1024);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, "print(1)\n");
  auto md = reg.read_file("s", "SKILL.md", 1024);
  ASSERT_TRUE(md.is_ok());
  EXPECT_EQ(md->rfind("---\nname: s\n", 0), 0u);

  auto missing = reg.read_file("s", "templates/none.py", 1024);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kNotFound);
  auto noskill = reg.read_file("nope", "SKILL.md", 1024);
  ASSERT_FALSE(noskill.is_ok());
  EXPECT_EQ(noskill.status().kind(), ErrorKind::kNotFound);
  auto dir = reg.read_file("s", "templates", 1024);
  ASSERT_FALSE(dir.is_ok());
  EXPECT_EQ(dir.status().kind(), ErrorKind::kInvalid);
}

TEST_F(SkillRegistryTest, ReadFileCap) {
  skill("s", "s", "d");
  write("s/big.bin", std::string(1000, 'x'));
  SkillRegistry reg = load();
  EXPECT_TRUE(reg.read_file("s", "big.bin", 1000).is_ok());
  auto r = reg.read_file("s", "big.bin", 999);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kTooLarge);
  auto empty = reg.read_file("s", "big.bin", 0);
  EXPECT_EQ(empty.status().kind(), ErrorKind::kTooLarge);
}

TEST_F(SkillRegistryTest, ReadFileRefusesTraversal) {
  skill("s", "s", "d");
  skill("other", "other", "d");
  write("secret.txt", "top secret");
  SkillRegistry reg = load();
  for (const std::string& bad :
       {std::string("../other/SKILL.md"), std::string("/etc/passwd"), std::string(""),
        std::string("a/../../secret.txt"), std::string("./SKILL.md"), std::string("a//b"),
        std::string(".."), std::string("SKILL.md/"), std::string("SKILL.md\0x", 10),
        std::string(5000, 'a')}) {
    auto r = reg.read_file("s", bad, 1 << 20);
    ASSERT_FALSE(r.is_ok()) << "path accepted: " << bad;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid) << bad << ": " << r.status().message();
  }
}

TEST_F(SkillRegistryTest, ReadFileRefusesSymlinksOutOfTheSkill) {
  skill("s", "s", "d");
  skill("other", "other", "d");
  write("s/real.txt", "inside");
  write("secret.txt", "top secret");
  fs::create_directories(dir_ / "s" / "sub");
  fs::create_symlink("/etc/passwd", dir_ / "s" / "passwd");
  fs::create_symlink("../secret.txt", dir_ / "s" / "up");
  fs::create_symlink("../../other/SKILL.md", dir_ / "s" / "sub" / "sibling");
  fs::create_directory_symlink("/etc", dir_ / "s" / "etc");
  fs::create_symlink("/proc/self/root/etc/passwd", dir_ / "s" / "magic");
  fs::create_symlink("real.txt", dir_ / "s" / "alias");  // stays inside: allowed
  SkillRegistry reg = load();

  for (const char* bad : {"passwd", "up", "sub/sibling", "etc/passwd", "magic"}) {
    auto r = reg.read_file("s", bad, 1 << 20);
    ASSERT_FALSE(r.is_ok()) << "symlink escape accepted: " << bad << " -> " << *r;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid) << bad << ": " << r.status().message();
  }
  auto ok = reg.read_file("s", "alias", 1 << 20);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(*ok, "inside");
}

TEST_F(SkillRegistryTest, ReadFileRefusesFifo) {
  skill("s", "s", "d");
  ASSERT_EQ(::mkfifo((dir_ / "s" / "fifo").c_str(), 0600), 0);
  SkillRegistry reg = load();
  auto r = reg.read_file("s", "fifo", 1024);  // must not block
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
}

TEST(SkillNames, Validation) {
  EXPECT_TRUE(valid_skill_name("data-analysis"));
  EXPECT_TRUE(valid_skill_name("pdf_report.v2"));
  EXPECT_FALSE(valid_skill_name(""));
  EXPECT_FALSE(valid_skill_name(".hidden"));
  EXPECT_FALSE(valid_skill_name("-x"));
  EXPECT_FALSE(valid_skill_name("a/b"));
  EXPECT_FALSE(valid_skill_name(".."));
  EXPECT_FALSE(valid_skill_name(std::string(65, 'a')));
}

// The skills the repo ships all load cleanly.
TEST(BuiltinSkills, RepoSkillsFolderLoadsWithoutWarnings) {
  fs::path repo_skills = fs::path(__FILE__).parent_path().parent_path().parent_path() / "skills";
  ASSERT_TRUE(fs::is_directory(repo_skills)) << repo_skills;
  auto r = SkillRegistry::load(repo_skills.string());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->warnings().empty()) << r->warnings().front();
  std::vector<std::string> names;
  for (const auto& s : r->list()) names.push_back(s.name);
  for (const char* want :
       {"charts", "data-analysis", "excel-report", "pdf-report", "process-file"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  auto pf = r->get("process-file");
  ASSERT_TRUE(pf.is_ok());
  EXPECT_NE(std::find(pf->files.begin(), pf->files.end(), "process_file.py"), pf->files.end());
}

}  // namespace
}  // namespace kiln::skills
