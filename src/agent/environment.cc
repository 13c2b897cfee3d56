#include "agent/environment.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/identity.h"

namespace kiln::agent {

std::vector<std::string> child_environment(const protocol::StringMap& extra,
                                           const protocol::StringMap& env) {
  std::map<std::string, std::string> vars = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin:/home/user/.local/bin"},
      {"HOME", "/home/user"},
      {"USER", "user"},
      {"LOGNAME", "user"},
      {"SHELL", "/bin/bash"},
      {"LANG", "C.UTF-8"},
      {"TMPDIR", "/tmp"}};
  for (const auto* src : {&extra, &env})
    for (const auto& [k, v] : *src) vars[k] = v;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

std::string check_directory(const std::string& path) {
  UserFsRights as_user;
  if (!as_user.ok()) return "cwd " + path + ": cannot take the sandbox user's rights";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cwd " + path + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "cwd " + path + " is not a directory";
  // AT_EACCESS: checked with the filesystem ids set above, not the real uid.
  if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0)
    return "cwd " + path + ": " + std::strerror(errno);
  return "";
}

UserFsRights::UserFsRights()
    : previous_gid_(static_cast<gid_t>(::setfsgid(kUserUid))),
      previous_uid_(static_cast<uid_t>(::setfsuid(kUserUid))) {
  // setfs*id report the previous id, not failure: read the ids back.
  ok_ = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == kUserUid &&
        static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == kUserUid;
}

UserFsRights::~UserFsRights() {
  ::setfsuid(previous_uid_);
  ::setfsgid(previous_gid_);
}

}  // namespace kiln::agent
