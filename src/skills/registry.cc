#include "skills/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

#include "common/unique_fd.h"

namespace kiln::skills {
namespace {

constexpr std::size_t kMaxRelPath = 4096;
constexpr std::size_t kMaxNameLen = 64;

// --- opening files beneath a directory fd ---------------------------------

int sys_openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  struct open_how how = {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

// Fallback for kernels without openat2 (< 5.6): walk component by component
// and follow no symlink at all (stricter than RESOLVE_BENEATH).
int open_beneath_nofollow(int dirfd, const std::string& relpath, int flags) {
  UniqueFd cur;
  int at = dirfd;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = relpath.find('/', start);
    std::string part =
        relpath.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) {
      return ::openat(at, part.c_str(), flags | O_NOFOLLOW);
    }
    int fd = ::openat(at, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    cur.reset(fd);
    at = cur.get();
    start = slash + 1;
  }
}

// Opens relpath (already lexically checked) beneath dirfd. On failure returns
// a Status with ENOENT (missing) or EINVAL (escapes/not allowed) or the errno.
Result<UniqueFd> open_beneath(int dirfd, const std::string& relpath, int flags) {
  int fd = sys_openat2(dirfd, relpath.c_str(), static_cast<std::uint64_t>(flags),
                       RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOSYS) fd = open_beneath_nofollow(dirfd, relpath, flags);
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::not_found("no such file: " + relpath);
    case EXDEV:
    case ELOOP:
      return Status::invalid("path escapes the skill folder: " + relpath);
    default:
      return Status::from_errno("openat2(" + relpath + ")", err);
  }
}

// Reads a regular file from an open fd, refusing anything larger than cap.
Result<std::string> read_capped(int fd, const std::string& what, std::uint64_t cap) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::from_errno("fstat(" + what + ")");
  if (!S_ISREG(st.st_mode)) return Status::invalid("not a regular file: " + what);
  if (static_cast<std::uint64_t>(st.st_size) > cap) {
    return Status::too_large(what + " is larger than " + std::to_string(cap) + " bytes");
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno("read(" + what + ")");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > cap) {  // grew while we read it
      return Status::too_large(what + " is larger than " + std::to_string(cap) + " bytes");
    }
  }
  return out;
}

// The skill folder itself: a real directory directly under the root.
Result<UniqueFd> open_skill_dir(int rootfd, const std::string& name) {
  int fd = ::openat(rootfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == ELOOP) {
      return Status::not_found("no such skill folder: " + name);
    }
    return Status::from_errno("openat(" + name + ")", err);
  }
  return UniqueFd(fd);
}

Result<UniqueFd> open_root(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::from_errno("open(" + dir + ")");
  return UniqueFd(fd);
}

// --- SKILL.md --------------------------------------------------------------

struct FrontMatter {
  std::string name;
  std::string description;
  std::string body;
};

std::string_view rstrip(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits "---\n<yaml>\n---\n<body>" and parses the YAML with yaml-cpp.
Result<FrontMatter> parse_skill_md(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
  std::size_t eol = text.find('\n');
  if (eol == std::string_view::npos || rstrip(text.substr(0, eol)) != "---") {
    return Status::invalid("SKILL.md does not start with a '---' front matter line");
  }
  std::size_t yaml_start = eol + 1;
  std::size_t pos = yaml_start;
  std::size_t yaml_end = std::string_view::npos;
  std::size_t body_start = text.size();
  while (pos < text.size()) {
    std::size_t next = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    std::string_view trimmed = rstrip(line);
    if (trimmed == "---" || trimmed == "...") {
      yaml_end = pos;
      body_start = next == std::string_view::npos ? text.size() : next + 1;
      break;
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  if (yaml_end == std::string_view::npos) {
    return Status::invalid("front matter is not closed by a '---' line");
  }

  FrontMatter fm;
  try {
    YAML::Node node = YAML::Load(std::string(text.substr(yaml_start, yaml_end - yaml_start)));
    if (!node.IsMap()) return Status::invalid("front matter is not a YAML mapping");
    for (const char* key : {"name", "description"}) {
      YAML::Node v = node[key];
      if (!v.IsDefined() || v.IsNull()) {
        return Status::invalid(std::string("front matter has no '") + key + "'");
      }
      if (!v.IsScalar()) {
        return Status::invalid(std::string("front matter '") + key + "' is not a string");
      }
      std::string s = v.as<std::string>();
      if (s.empty()) return Status::invalid(std::string("front matter '") + key + "' is empty");
      (key[0] == 'n' ? fm.name : fm.description) = std::move(s);
    }
  } catch (const YAML::Exception& e) {
    return Status::invalid(std::string("invalid YAML front matter: ") + e.what());
  } catch (const std::exception& e) {
    return Status::invalid(std::string("invalid front matter: ") + e.what());
  }
  // Trim surrounding whitespace in the description (folded scalars end in \n).
  while (!fm.description.empty() &&
         std::isspace(static_cast<unsigned char>(fm.description.back()))) {
    fm.description.pop_back();
  }
  std::string_view body = text.substr(body_start);
  while (!body.empty() && (body.front() == '\n' || body.front() == '\r')) body.remove_prefix(1);
  fm.body = std::string(body);
  return fm;
}

// --- listing ---------------------------------------------------------------

bool skip_entry(std::string_view name) {
  return name.empty() || name.front() == '.' || name == "__pycache__";
}

// Collects regular files under dirfd (prefix is "" or "sub/dir/"). Never
// follows symlinks: each entry is classified with fstatat(AT_SYMLINK_NOFOLLOW)
// and subfolders are opened with O_NOFOLLOW.
void walk(int dirfd, const std::string& prefix, int depth, std::vector<std::string>& out,
          std::vector<std::string>& warnings, const std::string& skill) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    warnings.push_back("skill " + skill + ": cannot list " + (prefix.empty() ? "." : prefix) +
                       ": " + std::strerror(errno));
    return;
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == ".." || skip_entry(n)) continue;
    names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    if (out.size() >= kMaxListedFiles) {
      warnings.push_back("skill " + skill + ": more than " + std::to_string(kMaxListedFiles) +
                         " files; listing truncated");
      break;
    }
    struct stat st {};
    if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      out.push_back(prefix + n);
    } else if (S_ISDIR(st.st_mode)) {
      if (depth + 1 >= kMaxListDepth) {
        warnings.push_back("skill " + skill + ": " + prefix + n +
                           " is nested too deep; not listed");
        continue;
      }
      int sub = ::openat(::dirfd(d), n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) continue;
      UniqueFd subfd(sub);
      walk(subfd.get(), prefix + n + "/", depth + 1, out, warnings, skill);
    }
    // symlinks, fifos, sockets, devices: not listed
  }
  ::closedir(d);
}

}  // namespace

bool valid_skill_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLen) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Status check_relative_path(const std::string& relpath) {
  if (relpath.empty()) return Status::invalid("empty path");
  if (relpath.size() > kMaxRelPath) return Status::invalid("path too long");
  if (relpath.find('\0') != std::string::npos) return Status::invalid("NUL in path");
  if (relpath.front() == '/') return Status::invalid("absolute path not allowed: " + relpath);
  std::size_t start = 0;
  while (start <= relpath.size()) {
    std::size_t slash = relpath.find('/', start);
    std::size_t end = slash == std::string::npos ? relpath.size() : slash;
    std::string_view part(relpath.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::invalid("path component '" + std::string(part) + "' not allowed: " + relpath);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Status::ok();
}

Result<SkillRegistry> SkillRegistry::load(const std::string& dir) {
  auto root = open_root(dir);
  if (!root) return root.status();

  SkillRegistry reg;
  reg.dir_ = dir;
  while (reg.dir_.size() > 1 && reg.dir_.back() == '/') reg.dir_.pop_back();

  int listfd = ::openat(root->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listfd < 0) return Status::from_errno("open(" + dir + ")");
  DIR* d = ::fdopendir(listfd);
  if (d == nullptr) {
    int err = errno;
    ::close(listfd);
    return Status::from_errno("fdopendir(" + dir + ")", err);
  }
  std::vector<std::string> folders;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || n.front() == '.' || n == "__pycache__") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      reg.warnings_.push_back("skipped " + n + ": a symlink, not a skill folder");
      continue;
    }
    if (!S_ISDIR(st.st_mode)) continue;  // README.md and the like
    folders.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(folders.begin(), folders.end());

  for (const std::string& folder : folders) {
    auto skip = [&](const std::string& why) {
      reg.warnings_.push_back("skipped " + folder + ": " + why);
    };
    if (!valid_skill_name(folder)) {
      skip("folder name is not a valid skill name ([A-Za-z0-9][A-Za-z0-9._-]*, max 64)");
      continue;
    }
    auto sdir = open_skill_dir(root->get(), folder);
    if (!sdir) {
      skip(sdir.status().message());
      continue;
    }
    auto md_fd =
        open_beneath(sdir->get(), "SKILL.md", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (!md_fd) {
      skip(md_fd.status().kind() == ErrorKind::kNotFound ? "no SKILL.md"
                                                         : md_fd.status().message());
      continue;
    }
    auto text = read_capped(md_fd->get(), folder + "/SKILL.md", kMaxSkillMdBytes);
    if (!text) {
      skip(text.status().message());
      continue;
    }
    auto fm = parse_skill_md(*text);
    if (!fm) {
      skip(fm.status().message());
      continue;
    }
    if (fm->name != folder) {
      skip("front matter name '" + fm->name + "' does not match the folder name");
      continue;
    }
    Skill skill;
    skill.name = fm->name;
    skill.description = std::move(fm->description);
    skill.body = std::move(fm->body);
    skill.dir = reg.dir_ + "/" + folder;
    walk(sdir->get(), "", 0, skill.files, reg.warnings_, folder);
    reg.skills_.push_back(std::move(skill));
  }

  for (const Skill& s : reg.skills_) reg.summaries_.push_back({s.name, s.description});
  for (const std::string& w : reg.warnings_) {
    spdlog::warn("event=skill_skipped dir=\"{}\" reason=\"{}\"", reg.dir_, w);
  }
  return reg;
}

const Skill* SkillRegistry::find(const std::string& name) const {
  auto it = std::lower_bound(skills_.begin(), skills_.end(), name,
                             [](const Skill& s, const std::string& n) { return s.name < n; });
  if (it == skills_.end() || it->name != name) return nullptr;
  return &*it;
}

Result<Skill> SkillRegistry::get(const std::string& name) const {
  const Skill* s = find(name);
  if (s == nullptr) return Status::not_found("no such skill: " + name);
  return *s;
}

Result<std::string> SkillRegistry::read_file(const std::string& name, const std::string& relpath,
                                             std::uint64_t cap) const {
  if (find(name) == nullptr) return Status::not_found("no such skill: " + name);
  if (Status s = check_relative_path(relpath); !s) return s;
  auto root = open_root(dir_);
  if (!root) return root.status();
  auto sdir = open_skill_dir(root->get(), name);
  if (!sdir) return sdir.status();
  auto fd = open_beneath(sdir->get(), relpath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (!fd) return fd.status();
  return read_capped(fd->get(), name + "/" + relpath, cap);
}

}  // namespace kiln::skills
