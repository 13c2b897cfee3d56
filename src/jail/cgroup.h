// Per-sandbox cgroups: memory (with swap), pids and CPU limits, usage
// readings, and killing everything a sandbox started.
//
// cgroup v1 and v2 are both supported, chosen PER CONTROLLER at start-up by
// CgroupLayout::detect(): a controller goes through v2 when the unified
// hierarchy lists it in cgroup.controllers and it can be enabled in the
// subtree_control of every cgroup from the unified root down to the parent
// ("kiln"); else through its v1 mount if there is one; else it is
// unavailable (the caller logs describe() and notes(); it is not fatal).
// Hybrid hosts (v1 controllers plus an empty cgroup2 at .../unified) are
// common, and so are hosts where only some controllers moved to v2.
//
// Whenever a usable unified (cgroup2) hierarchy exists, every sandbox also
// gets a cgroup there, even if no controller is used through v2: it costs a
// directory and buys cgroup.kill (an atomic kill of every process, immune to
// fork races and pid reuse) and cpu.stat (CPU usage without cpuacct).
//
// Layout on disk, e.g. hybrid host, sandbox "sbx_1", parent "kiln":
//   /sys/fs/cgroup/memory/kiln/sbx_1   (v1 memory)
//   /sys/fs/cgroup/pids/kiln/sbx_1     (v1 pids)
//   /sys/fs/cgroup/cpu/kiln/sbx_1      (v1 cpu; cpuacct too if co-mounted)
//   /sys/fs/cgroup/cpuacct/kiln/sbx_1  (v1 cpuacct, only if a separate mount)
//   /sys/fs/cgroup/unified/kiln/sbx_1  (v2: controllers on v2, cgroup.kill)
//
// Concurrency contract:
//   - CgroupLayout is immutable after detect() and may be shared and read
//     from any thread. detect() itself writes (creates the parent cgroups,
//     enables controllers); run it once at start-up.
//   - A Cgroup is not internally synchronized. Its owner serializes the
//     mutating calls (add_process, set_limits, kill_all_and_remove, the
//     destructor). The const calls (usage, pids) only read kernel files and
//     may run concurrently with each other and with add_process/set_limits,
//     but not with kill_all_and_remove or destruction.
//   - Distinct Cgroup objects are independent (distinct directories).
//   - remove_stale_cgroups() kills every process under the parent cgroups:
//     run it at start-up, before the first Cgroup::create(), never while
//     sandboxes are live.
//   - Calls block on kernel file I/O; kill_all_and_remove() (and so the
//     destructor) may sleep up to ~3 s waiting for processes to die. Call
//     them off latency-sensitive threads (not an Asio I/O thread).
//   - No function forks, and none leaves threads behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "jail/fs_ops.h"

namespace kiln::jail {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0 = no limit. Swap is capped too (no escape via swap).
  double cpus = 0;            // 0 = no limit; 1.5 = 150% of one CPU (CFS quota per 100 ms).
  uint64_t pids = 0;          // 0 = no limit; counts processes and threads.
};

struct CgroupUsage {
  uint64_t cpu_usage_ns = 0;       // user + system CPU time of the whole cgroup
  uint64_t memory_peak_bytes = 0;  // 0 when the kernel has no peak file (v2 < 5.19)
  uint64_t memory_current_bytes = 0;
  uint64_t oom_kills = 0;  // processes the OOM killer killed in this cgroup
};

// A sandbox's claim on contended CPU. Background is for work no caller is
// waiting on — a pool sandbox warming up — so that it yields the CPU to the
// sandboxes running users' code, above all to the one just handed out of
// the pool while the pool refills behind it.
enum class CpuPriority { kForeground, kBackground };

enum class CgroupVersion { kNone, kV1, kV2 };
enum class CgroupController { kMemory, kPids, kCpu };

// "none", "v1", "v2".
const char* cgroup_version_name(CgroupVersion version);

// Where each controller lives. Built once by detect(); copies are cheap and
// share the FsOps.
class CgroupLayout {
 public:
  // root: the cgroup mount root ("/sys/fs/cgroup"; tests pass a fake tree).
  // parent_name: the parent cgroup for all sandboxes, relative to each
  // hierarchy root, e.g. "kiln" (components of [A-Za-z0-9._-], '/'-joined).
  // Creates the parent cgroup in every hierarchy used and enables the v2
  // controllers down the chain. Fails only for a bad parent_name; an unusable
  // controller is reported as kNone with a reason in notes().
  static Result<CgroupLayout> detect(const std::string& root = "/sys/fs/cgroup",
                                     const std::string& parent_name = "kiln",
                                     std::shared_ptr<FsOps> fs = real_fs_ops());

  CgroupVersion version(CgroupController controller) const;
  // The parent cgroup directory holding the controller's sandbox cgroups,
  // or "" when the controller is unavailable.
  const std::string& parent_dir(CgroupController controller) const;
  // The v2 parent cgroup directory, or "" when no unified hierarchy is usable.
  const std::string& unified_parent_dir() const { return unified_dir_; }
  // The v1 directory whose cpuacct.usage gives CPU time ("" if none): the
  // cpu hierarchy when cpuacct is co-mounted with it, else a separate
  // cpuacct hierarchy.
  const std::string& cpuacct_parent_dir() const { return cpuacct_dir_; }
  // Where sandboxes are frozen (pause): the v1 freezer hierarchy's parent,
  // else the unified parent (cgroup.freeze, kernel >= 5.2), else "".
  const std::string& freezer_parent_dir() const { return freezer_.parent_dir; }
  CgroupVersion freezer_version() const { return freezer_.version; }
  // Every distinct parent directory in use (for cleanup).
  std::vector<std::string> parent_dirs() const;

  // One line for the start-up log, e.g.
  // "memory=v1 pids=v1 cpu=v1 cpu_usage=v1-cpuacct unified=yes".
  std::string describe() const;
  // Why a controller fell back from v2 or is unavailable, one line each.
  const std::vector<std::string>& notes() const { return notes_; }

  FsOps& fs() const { return *fs_; }
  const std::shared_ptr<FsOps>& fs_ptr() const { return fs_; }

 private:
  struct Placement {
    CgroupVersion version = CgroupVersion::kNone;
    std::string parent_dir;
  };
  const Placement& placement(CgroupController controller) const;

  std::shared_ptr<FsOps> fs_;
  Placement memory_, pids_, cpu_, freezer_;
  std::string cpuacct_dir_;
  std::string unified_dir_;
  std::vector<std::string> notes_;
};

// One sandbox's cgroups, across all hierarchies. RAII: the destructor kills
// any remaining processes and removes the directories (best effort, failures
// logged).
class Cgroup {
 public:
  // name: one path component of [A-Za-z0-9._-] (e.g. the sandbox id). Creates
  // the cgroup in every hierarchy and applies `limits`; on any failure
  // nothing created here is left behind. Fails with EEXIST if a cgroup of
  // that name already exists (it is not ours to adopt or remove).
  static Result<std::unique_ptr<Cgroup>> create(const CgroupLayout& layout, const std::string& name,
                                                const CgroupLimits& limits);
  ~Cgroup();
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // Moves `pid` (with all its threads) into the cgroup of every hierarchy:
  // one write per v1 hierarchy, one for v2.
  Status add_process(pid_t pid);
  // The cgroup.procs file of every directory of this cgroup (what
  // add_process writes), for a process that attaches children itself.
  std::vector<std::string> procs_files() const;
  // Applies limits; may be called again later (pool sandboxes get the
  // requested limits when handed out). Lowering memory below current usage
  // makes the kernel reclaim and may fail with EBUSY.
  Status set_limits(const CgroupLimits& limits);
  // Sets the CPU priority (see CpuPriority); a no-op without a cpu controller.
  Status set_cpu_priority(CpuPriority priority);
  Result<CgroupUsage> usage() const;
  // Processes in the cgroup (union over hierarchies, sorted). Unreadable
  // hierarchies are skipped.
  std::vector<pid_t> pids() const;
  // Kills every process (cgroup.kill where the kernel has it, else SIGKILL
  // each listed pid, repeated until none is left) and removes the
  // directories. Bounded: gives up after ~3 s with an error naming what is
  // left. Idempotent once it succeeded.
  Status kill_all_and_remove();

  // Freezing (pause): the kernel stops scheduling every process of the
  // cgroup; memory, files and sockets stay. A frozen process does not even
  // die of SIGKILL until thawed, so kill_all_and_remove() thaws first.
  bool can_freeze() const { return freezer_version_ != CgroupVersion::kNone; }
  // Asks the kernel to freeze (true) or thaw (false) and returns at once:
  // freezing completes asynchronously, see frozen(). Thawing is immediate.
  Status set_frozen(bool frozen);
  // Whether freezing has completed (v1 freezer.state FROZEN, v2
  // cgroup.events "frozen 1"); false while still FREEZING.
  Result<bool> frozen() const;

  const std::string& name() const { return name_; }
  // This cgroup's directories, one per hierarchy.
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  Cgroup() = default;
  Status set_memory_v1(const CgroupLimits& limits);
  Status set_memory_v2(const CgroupLimits& limits);

  std::shared_ptr<FsOps> fs_;
  std::string name_;
  CgroupVersion memory_version_ = CgroupVersion::kNone;
  CgroupVersion pids_version_ = CgroupVersion::kNone;
  CgroupVersion cpu_version_ = CgroupVersion::kNone;
  CgroupVersion freezer_version_ = CgroupVersion::kNone;
  std::string freezer_dir_;
  std::string memory_dir_, pids_dir_, cpu_dir_, cpuacct_dir_, unified_dir_;
  std::vector<std::string> dirs_;  // distinct, in creation order
  bool removed_ = false;
};

// Start-up cleanup after a crash: every child cgroup of the parent, in every
// hierarchy, gets its processes killed and is removed. Returns how many
// distinct child names were removed everywhere; a child that could not be
// removed is logged and not counted. Fails only if a parent cannot be listed.
Result<int> remove_stale_cgroups(const CgroupLayout& layout);

// Removes the daemon's parent cgroups ("kiln", or --cgroup-parent) in every
// hierarchy, once no sandbox cgroup is left under them: run it at a
// graceful stop. A parent that still has children is left (and reported).
Status remove_parent_cgroups(const CgroupLayout& layout);

}  // namespace kiln::jail
