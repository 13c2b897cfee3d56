// SkillRegistry: the catalog of skills served by /v1/skills and mounted
// read-only at /skills in every sandbox.
//
// A skill is a folder <skills_dir>/<name>/ holding SKILL.md (YAML front
// matter between two "---" lines with at least `name` and `description`,
// then the markdown body: the instructions) and any template files.
//
// Loading is forgiving: a folder without SKILL.md, with unreadable or invalid
// front matter, with a `name` that differs from the folder name, or with a
// name that is not a plain identifier ([A-Za-z0-9][A-Za-z0-9._-]*, at most
// 64 bytes) is skipped and a warning is recorded (warnings()) and logged.
// Only an unreadable skills folder makes load() fail.
//
// Security: file reads resolve the requested path with openat2(2)
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to the skill folder's fd,
// so neither "..", an absolute path, nor a symlink planted inside a skill can
// reach a file outside that skill. Paths are also checked lexically first
// (no NUL, not absolute, no empty/"."/".." components) and answer EINVAL.
// The skill folder itself must be a real directory (not a symlink). The file
// listing never follows symlinks and skips dotfiles and __pycache__.
//
// Errors (Status::kind()): kNotFound unknown skill or missing file; kInvalid
// bad relative path, a path escaping the skill, or not a regular file;
// kTooLarge file larger than the cap; kInternal other OS failures (their
// errno in error_number()).
//
// Thread-safety: load() builds the registry; afterwards a SkillRegistry is
// immutable, and every const method may be called from any number of threads
// at once. read_file() does blocking file I/O (small files; call it off the
// event loop if that matters). Changes to the skills folder after load() are
// seen by read_file() but not by list()/get() until the registry is reloaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln::skills {

// Bytes; a SKILL.md larger than this is skipped with a warning.
inline constexpr std::uint64_t kMaxSkillMdBytes = 1 << 20;
// Listing limits per skill (deeper or extra entries are left out, with a
// warning recorded at load).
inline constexpr int kMaxListDepth = 16;
inline constexpr std::size_t kMaxListedFiles = 10000;

struct SkillSummary {
  std::string name;
  std::string description;
};

struct Skill {
  std::string name;
  std::string description;
  std::string body;  // SKILL.md after the front matter
  // Every regular file in the folder, relative paths ("SKILL.md",
  // "templates/a.py"), sorted; dotfiles, __pycache__ and symlinks excluded.
  std::vector<std::string> files;
  std::string dir;  // host path of the skill folder: <skills dir as loaded>/<name>
};

class SkillRegistry {
 public:
  // Scans `dir` (one level: each subfolder is a candidate skill).
  static Result<SkillRegistry> load(const std::string& dir);

  // {name, description} of every loaded skill, sorted by name.
  const std::vector<SkillSummary>& list() const { return summaries_; }
  // ENOENT when no skill has that name.
  Result<Skill> get(const std::string& name) const;
  // Contents of <skill>/<relpath>; EFBIG when the file is larger than cap.
  Result<std::string> read_file(const std::string& name, const std::string& relpath,
                                std::uint64_t cap) const;

  // One line per skipped folder or listing problem, in scan order.
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& dir() const { return dir_; }

 private:
  SkillRegistry() = default;

  const Skill* find(const std::string& name) const;

  std::string dir_;
  std::vector<Skill> skills_;  // sorted by name
  std::vector<SkillSummary> summaries_;
  std::vector<std::string> warnings_;
};

// Exposed for tests and for the HTTP layer's early 400s.
bool valid_skill_name(const std::string& name);
// Lexical check of a path relative to a skill folder (see header comment).
Status check_relative_path(const std::string& relpath);

}  // namespace kiln::skills
