// What every process kiln-init starts gets: its environment, and a check of
// its working folder made with the user's rights.
//
// Thread-safety: single-threaded (user_fs_rights changes the process's
// filesystem ids for its scope).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "protocol/messages.h"

namespace kiln::agent {

// PATH, HOME, USER, LANG... for the sandbox user, then `extra`, then `env`
// (later ones win), as "K=V" strings.
std::vector<std::string> child_environment(const protocol::StringMap& extra,
                                           const protocol::StringMap& env);

// "" when `path` is a directory the sandbox user can enter, else why not.
std::string check_directory(const std::string& path);

// While one exists, filesystem permission checks use the sandbox user's
// ids (setfsuid/setfsgid), so a file operation kiln-init performs on
// behalf of the API has exactly the rights the code has, never kiln-init's.
class UserFsRights {
 public:
  UserFsRights();
  ~UserFsRights();
  UserFsRights(const UserFsRights&) = delete;
  UserFsRights& operator=(const UserFsRights&) = delete;
  // False if the kernel did not take the user's ids (the caller must then
  // refuse the operation).
  bool ok() const { return ok_; }

 private:
  gid_t previous_gid_;  // restored on exit: scopes may nest
  uid_t previous_uid_;
  bool ok_ = false;
};

}  // namespace kiln::agent
