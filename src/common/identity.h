// The identities inside every sandbox, and the host ids they map to.
//
// A sandbox's user namespace maps exactly two ids, each to a host uid of
// its own slot (never 0, never shared with another sandbox):
//   kInitUid (999)  kiln-init, PID 1. Keeps CAP_SETUID/SETGID/KILL in the
//                   namespace, so it can start processes as the user and
//                   stop them; nothing else.
//   kUserUid (1000) every process user code runs in, with no capabilities.
// Because the two differ, code running as the user cannot signal, ptrace,
// prlimit or read the /proc files of kiln-init. The namespace is created
// by the slot's user host uid, so the kernel's per-user budgets (message
// queues, pending signals, inotify instances) are charged to that sandbox
// alone, not to host root's budget shared with every other sandbox.
//
// Thread-safety: constants and pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace kiln {

inline constexpr uid_t kInitUid = 999;
inline constexpr uid_t kUserUid = 1000;

struct SlotIds {
  uid_t user_host_uid;  // also the gid; maps kUserUid and owns the user namespace
  uid_t init_host_uid;  // also the gid; maps kInitUid
};

// Slot i (1-based) of a daemon whose range starts at uid_base.
inline SlotIds slot_ids(std::uint32_t uid_base, int slot) {
  const auto base = static_cast<uid_t>(uid_base) + 2 * static_cast<uid_t>(slot);
  return {base, base + 1};
}

// The host uids a daemon with `slots` slots may use: [uid_base, end).
inline uid_t slot_ids_end(std::uint32_t uid_base, int slots) {
  return static_cast<uid_t>(uid_base) + 2 * static_cast<uid_t>(slots + 1);
}

}  // namespace kiln
